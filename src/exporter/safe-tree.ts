/**
 * Confinement for writing untrusted archives into a directory: names are cleaned, nothing
 * may resolve outside the root, and nothing is ever written through a symlink (parents
 * are real directories, checked with lstat, never followed).
 *
 * The calls are synchronous: an unpack makes several per entry, and a thread-pool round
 * trip for each cost more than the call itself.
 */
import { lstatSync, mkdirSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import { PathEscapeError } from './errors.ts';

/**
 * A tar entry name as a clean relative path ('' for the root itself). A leading `/` is
 * dropped (names are relative to the layer root, as containerd treats them); a name that
 * climbs out with `..` is refused.
 */
export function cleanEntryPath(name: string): string {
  const normal = posix.normalize(name.replace(/^\/+/, '')).replace(/\/+$/, '');
  if (normal === '..' || normal.startsWith('../')) {
    throw new PathEscapeError(name, 'resolves outside the layer root (contains "..")');
  }
  return normal === '.' ? '' : normal;
}

/** The parent of a clean relative path ('' for top-level names). */
export function parentOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash === -1 ? '' : rel.slice(0, slash);
}

/**
 * A directory being written from untrusted input. Keeps the set of paths known to be real
 * directories whose ancestors are all real directories, so each is checked only once.
 */
export class SafeTree {
  readonly root: string;
  readonly #dirs = new Set<string>(['']);

  constructor(root: string) {
    this.root = root;
  }

  abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }

  /** True when `rel`'s parent is a verified real directory (safe to create `rel` in). */
  hasSafeParent(rel: string): boolean {
    return this.#dirs.has(parentOf(rel));
  }

  isDir(rel: string): boolean {
    return this.#dirs.has(rel);
  }

  markDir(rel: string): void {
    this.#dirs.add(rel);
  }

  /**
   * Make sure every ancestor of `rel` is a real directory, creating missing ones (0755).
   * A symlink or a non-directory on the way is refused: writing there would land
   * wherever the link points.
   */
  ensureParent(rel: string, entryName: string): void {
    const parent = parentOf(rel);
    if (this.#dirs.has(parent)) return;
    let current = '';
    for (const part of parent.split('/')) {
      current = current === '' ? part : `${current}/${part}`;
      if (this.#dirs.has(current)) continue;
      const stat = lstatSync(this.abs(current), { throwIfNoEntry: false });
      if (stat === undefined) mkdirSync(this.abs(current), { mode: 0o755 });
      else if (stat.isSymbolicLink()) {
        throw new PathEscapeError(entryName, `would be written through the symlink "${current}"`);
      } else if (!stat.isDirectory()) {
        throw new PathEscapeError(entryName, `has a parent "${current}" that is not a directory`);
      }
      this.#dirs.add(current);
    }
  }

  /**
   * Clear the way for a new entry at `rel`: an existing directory stays when the new
   * entry is a directory too; anything else there is removed.
   * Returns whether a directory was kept.
   */
  prepare(rel: string, keepDirectory: boolean): boolean {
    const path = this.abs(rel);
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (stat === undefined) return false;
    if (stat.isDirectory() && keepDirectory) return true;
    rmSync(path, { recursive: true, force: true });
    this.#forget(rel);
    return false;
  }

  #forget(rel: string): void {
    const prefix = `${rel}/`;
    for (const dir of this.#dirs) if (dir === rel || dir.startsWith(prefix)) this.#dirs.delete(dir);
  }
}
