/** The local build context as tbuild sees it: one record per non-excluded path. */

export type ContextFileType = 'file' | 'dir' | 'symlink' | 'other';

export interface ContextFile {
  /** Relative to the context root, `/`-separated, no leading `./`. */
  path: string;
  type: ContextFileType;
  /** Permission bits including setuid/setgid/sticky (`st_mode & 0o7777`); the type is in `type`. */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes for files, the target length for symlinks, 0 for directories (their st_size is filesystem noise). */
  size: number;
  /** Symlinks only: the target as stored in the link (never followed). */
  linkTarget?: string;
  /** Regular files only: `sha256:<hex>` of the content. */
  digest?: string;
}

export interface ScanStats {
  /** Entries recorded in the snapshot. */
  entries: number;
  /** Files whose content was read and hashed during this scan. */
  hashed: number;
  /** Files whose digest came from the stat cache. */
  reused: number;
  /**
   * Every file's digest is now in the stat cache for its current version: none was
   * changed too recently to trust its timestamps (see isSafeToCache in scan.ts).
   */
  allCached: boolean;
}

export interface ContextSnapshot {
  /** Absolute, symlink-resolved root that was walked. */
  root: string;
  /** Every path that survived .dockerignore, parents before children. */
  files: Map<string, ContextFile>;
  /**
   * What .dockerignore hides: excluded entries inside visible directories (not their
   * contents), so a view of the context needs to hide only these (mounts.ts).
   */
  excluded: string[];
  stats: ScanStats;
}
