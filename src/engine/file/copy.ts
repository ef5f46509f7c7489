/**
 * COPY and ADD semantics, as BuildKit applies them (its fileop copy on fsutil):
 * - a directory source copies its contents; a file goes to `dest` or into it when `dest`
 *   ends in `/` or is an existing directory;
 * - missing parents of the destination are created 0755 (a numeric --chmod through the 022
 *   umask instead, as BuildKit 28 does), owned by the --chown owner;
 * - an existing destination directory keeps its own metadata; nested ones take the source's;
 * - owner: --chown, else the source's (build-context files are always root-owned in images);
 * - --chmod applies to every copied entry, directories included;
 * - symlinks inside a copied tree are copied as links, a symlink named directly is followed;
 * - hard links within one copy stay hard links.
 * Writes go through `resolveInRoot`, so a destination crossing a symlink in the image
 * lands where the container would see it, never outside the root.
 */
import { chmod, lchown, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import type { CopyAction } from '../../llb/types.ts';
import { FileOpError, sourceNotFound } from './errors.ts';
import { hasWildcard, matchComponent } from './glob.ts';
import type { Owner } from './owner.ts';
import { cleanPath, resolveInRoot } from './paths.ts';
import { createdDirMode } from './mode.ts';
import { copyDirEntries, copyEntry, makeLimit, type TreeOptions } from './tree.ts';
import { isArchive, extractArchive } from './unpack.ts';

export interface SourceRoot {
  /** Host directory the source paths are read from. */
  root: string;
  /** Force this owner on copied entries (the build context: files are root-owned in images). */
  owner?: Owner;
  /** Whether a path (relative to root, posix, '' = root) is part of the source (.dockerignore). */
  visible?: (relPath: string) => boolean;
}

export interface CopyContext {
  /** Host directory of the destination filesystem (the merged overlay mount). */
  dest: string;
  /** A fresh temporary directory on request (archive extraction). */
  tempDir(): Promise<string>;
  signal?: AbortSignal;
}

type CopyOptions = TreeOptions;

/** Apply one copy action. `owner` is the resolved --chown, if any. */
export async function copyAction(
  ctx: CopyContext,
  source: SourceRoot,
  action: CopyAction,
  owner: Owner | undefined,
): Promise<void> {
  const srcPath = cleanPath(action.src);
  const visible = source.visible;
  const candidates =
    action.allowWildcard && hasWildcard(srcPath)
      ? await resolveWildcards(source.root, srcPath)
      : [srcPath];
  const matches = candidates.filter((m) => !visible || visible(m.replace(/^\/+/, '')));
  if (matches.length === 0) {
    // Only a wildcard may match nothing; a named source must exist (and not be .dockerignored).
    if (action.allowEmptyWildcard && hasWildcard(srcPath)) return;
    throw sourceNotFound(action.src);
  }
  const opts: CopyOptions = {
    owner,
    sourceOwner: source.owner,
    mode: action.mode,
    exclude: action.exclude ?? [],
    inodes: new Map(),
    limit: makeLimit(),
    signal: ctx.signal,
    sourceRoot: source.root,
    visible,
  };
  const destIsDir = action.dest.endsWith('/') || action.dest.endsWith('/.') || matches.length > 1;
  for (const match of matches) {
    ctx.signal?.throwIfAborted();
    const srcHost = await resolveInRoot(source.root, match, action.followSymlinks);
    const st = await lstat(srcHost).catch(() => undefined);
    if (!st) throw sourceNotFound(action.src === match ? action.src : match);
    let dest = cleanPath(action.dest) + (destIsDir ? '/' : '');
    if (action.parents) {
      const rel = parentsRelative(action.src, match);
      dest = path.posix.join(dest, st.isDirectory() ? rel : path.posix.dirname(rel)) + '/';
    }
    if (action.attemptUnpack && st.isFile() && (await isArchive(srcHost))) {
      await unpackInto(ctx, srcHost, dest, opts);
      continue;
    }
    await copyOne(ctx, srcHost, st, path.posix.basename(match), dest, action, opts);
  }
}

/** --parents keeps the source path below the context root, or below a `/./` pivot. */
function parentsRelative(pattern: string, match: string): string {
  const pivot = pattern.indexOf('/./');
  if (pivot >= 0) {
    const base = cleanPath(pattern.slice(0, pivot));
    return path.posix.relative(base, match);
  }
  return match.replace(/^\/+/, '');
}

async function copyOne(
  ctx: CopyContext,
  srcHost: string,
  st: Stats,
  name: string,
  dest: string,
  action: CopyAction,
  opts: CopyOptions,
): Promise<void> {
  const trailing = dest.endsWith('/');
  let destHost = await resolveInRoot(ctx.dest, dest, true);
  const destSt = await lstat(destHost).catch(() => undefined);
  const copyContents = st.isDirectory() && action.dirContentsOnly;
  if (
    (!copyContents && st.isDirectory() && destSt) ||
    (!st.isDirectory() && destSt?.isDirectory())
  ) {
    destHost = path.join(destHost, name);
  } else if (!st.isDirectory() && trailing && !destSt) {
    destHost = path.join(destHost, name);
  }
  // A directory's contents go into destHost itself: it is the parent to make. (Its dirname
  // would be outside the root for COPY . / — the root's parent.)
  const parent = copyContents ? destHost : path.dirname(destHost);
  if (!action.createDestPath && !(await lstat(path.dirname(destHost)).catch(() => undefined))) {
    throw new FileOpError(
      'TBUILD_COPY_DEST',
      `destination directory ${path.posix.dirname(dest)} does not exist`,
    );
  }
  await mkdirAllOwned(ctx.dest, parent, opts.owner, createdDirMode(opts.mode));
  if (copyContents && destSt?.isDirectory()) {
    await copyDirEntries(srcHost, destHost, '', opts);
  } else {
    // Without a destination, mkdirAllOwned has just made `destHost` for the contents: empty.
    // Exclude patterns match paths below the copied directory (`a.txt`, not `dir/a.txt`).
    await copyEntry(
      srcHost,
      st,
      destHost,
      copyContents ? '' : name,
      opts,
      false,
      copyContents && !destSt,
    );
  }
}

/** mkdir -p with Docker's 0755 and the --chown owner for every directory it creates. */
export async function mkdirAllOwned(
  root: string,
  dir: string,
  owner: Owner | undefined,
  mode = 0o755,
): Promise<void> {
  const rel = path.relative(root, dir);
  if (rel.startsWith('..'))
    throw new FileOpError('TBUILD_PATH_ESCAPE', `refusing to create ${dir} outside the root`);
  let current = root;
  for (const part of rel.split(path.sep).filter(Boolean)) {
    current = path.join(current, part);
    const st = await lstat(current).catch(() => undefined);
    if (st?.isDirectory()) continue;
    if (st?.isSymbolicLink()) {
      current = await resolveInRoot(root, '/' + path.relative(root, current), true);
      await mkdirAllOwned(root, current, owner, mode);
      continue;
    }
    if (st) {
      throw new FileOpError(
        'TBUILD_NOT_A_DIRECTORY',
        `cannot create directory /${path.relative(root, current)}: a file is in the way`,
        {
          hint: 'A file exists where the destination path needs a directory.',
        },
      );
    }
    await mkdir(current, { mode });
    await chmod(current, mode);
    await lchown(current, owner?.uid ?? 0, owner?.gid ?? 0);
  }
}

/** Expand a wildcard source path against the source root (Go filepath.Match per component). */
export async function resolveWildcards(root: string, pattern: string): Promise<string[]> {
  const parts = pattern.split('/').filter(Boolean);
  let current = ['/'];
  for (const part of parts) {
    const next: string[] = [];
    for (const dir of current) {
      if (!hasWildcard(part)) {
        next.push(path.posix.join(dir, part));
        continue;
      }
      const host = await resolveInRoot(root, dir, true);
      const names = await readdir(host).catch(() => [] as string[]);
      for (const name of names.sort())
        if (matchComponent(part, name)) next.push(path.posix.join(dir, name));
    }
    current = next;
  }
  const existing: string[] = [];
  for (const p of current)
    if (await lstat(await resolveInRoot(root, p, false)).catch(() => undefined)) existing.push(p);
  return existing;
}

async function unpackInto(
  ctx: CopyContext,
  archive: string,
  dest: string,
  opts: CopyOptions,
): Promise<void> {
  const tmp = await ctx.tempDir();
  await extractArchive(archive, tmp, opts.signal);
  const destHost = await resolveInRoot(ctx.dest, dest, true);
  await mkdirAllOwned(ctx.dest, destHost, opts.owner);
  // Archive entries keep their own owners and modes unless --chown says otherwise.
  const archiveOpts: CopyOptions = {
    ...opts,
    sourceOwner: undefined,
    mode: undefined,
    exclude: [],
    // The extracted tree is the source now: the build context's .dockerignore filter does not apply.
    visible: undefined,
    sourceRoot: tmp,
  };
  await copyDirEntries(tmp, destHost, '', archiveOpts);
  await rm(tmp, { recursive: true, force: true });
}
