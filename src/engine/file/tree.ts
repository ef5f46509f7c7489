/**
 * Copy a file tree into the destination root, many entries at a time.
 *
 * A large COPY is bound by the thread pool's file-system calls, so entries of a tree are
 * copied concurrently (a bounded number of file-system calls in flight) and every call that
 * cannot change the result is skipped:
 * - inside a directory this copy created, nothing exists yet, so no destination lstat;
 * - `copyFile` already gives the new file the source's mode, so no chmod unless the mode
 *   differs (--chmod) or a chown has just cleared set-id bits;
 * - a file made by this (root) process is owned by it (or by a set-group-ID parent's group),
 *   so no lchown when that is already the wanted owner.
 * Ordering that matters is kept: a directory exists before its children, its metadata is set
 * after them (so its mtime stays), and a hard link waits for the first copy of its inode.
 */
import {
  chmod,
  copyFile,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  readdir,
  readlink,
  rm,
  symlink,
} from 'node:fs/promises';
import type { Dirent, Stats } from 'node:fs';
import path from 'node:path';
import { inUserNamespace } from '../../shared/userns.ts';
import pLimit, { type LimitFunction } from 'p-limit';
import { FileOpError } from './errors.ts';
import { matchPath } from './glob.ts';
import { applyMode } from './mode.ts';
import type { Owner } from './owner.ts';
import { makeSpecialFile } from './special.ts';

/** File-system calls in flight at once: enough to keep a raised thread pool busy. */
const CONCURRENCY = 32;

export interface TreeOptions {
  owner: Owner | undefined;
  sourceOwner: Owner | undefined;
  mode: number | string | undefined;
  exclude: string[];
  /** dev:ino → destination path once the first copy of that inode is done, to keep hard links. */
  inodes: Map<string, Promise<string>>;
  /** Host root of the source and its visibility filter. */
  sourceRoot: string;
  visible: ((relPath: string) => boolean) | undefined;
  signal: AbortSignal | undefined;
  /** Bounds the file-system calls in flight. */
  limit: LimitFunction;
  /** The first error of this copy: entries not yet started are skipped once one failed. */
  failure?: unknown;
}

/**
 * What a new entry in a destination directory starts as. Set only for directories this copy
 * created: nothing exists in them yet, and a new entry is owned by this process's user and by
 * its group, or by the directory's group when the set-group-ID bit was inherited.
 */
interface FreshDir {
  uid: number;
  gid: number;
  /** The directory carries the set-group-ID bit, so entries made in it take `gid`. */
  setgid: boolean;
}

/** A new limiter for one copy action. */
export function makeLimit(): LimitFunction {
  return pLimit(CONCURRENCY);
}

/**
 * Copy `src` (already lstat'ed as `st`) to `dest`. `rel` is the path below the copied root
 * (for --exclude); `overwriteDirMetadata` makes an existing destination directory take the
 * source's metadata (true for nested directories). `destCreated` says the caller has just
 * created `dest` as an empty directory, so nothing in it needs checking.
 */
export async function copyEntry(
  src: string,
  st: Stats,
  dest: string,
  rel: string,
  opts: TreeOptions,
  overwriteDirMetadata: boolean,
  destCreated = false,
): Promise<void> {
  if (destCreated && st.isDirectory()) {
    opts.signal?.throwIfAborted();
    if (isSkipped(src, rel, opts)) return;
    const inner = await describeNewDir(dest, undefined, opts.limit);
    await copyChildren(src, dest, rel, opts, inner);
    if (overwriteDirMetadata) await opts.limit(() => setMetadata(dest, st, opts, true));
    return;
  }
  await copyEntryIn(src, st, dest, rel, opts, overwriteDirMetadata, undefined);
}

/** Copy a directory's children into the existing directory `dest`. */
export async function copyDirEntries(
  src: string,
  dest: string,
  rel: string,
  opts: TreeOptions,
): Promise<void> {
  await copyChildren(src, dest, rel, opts, undefined);
}

function isSkipped(src: string, rel: string, opts: TreeOptions): boolean {
  if (rel && opts.exclude.some((p) => matchPath(p, rel))) return true;
  return (
    opts.visible !== undefined &&
    !opts.visible(path.relative(opts.sourceRoot, src).split(path.sep).join('/'))
  );
}

async function copyEntryIn(
  src: string,
  st: Stats,
  dest: string,
  rel: string,
  opts: TreeOptions,
  overwriteDirMetadata: boolean,
  fresh: FreshDir | undefined,
): Promise<void> {
  opts.signal?.throwIfAborted();
  if (isSkipped(src, rel, opts)) return;
  if (st.isDirectory()) {
    await copyDirectory(src, st, dest, rel, opts, overwriteDirMetadata, fresh);
    return;
  }
  await opts.limit(() => copyNonDirectory(src, st, dest, rel, opts, fresh));
}

async function copyDirectory(
  src: string,
  st: Stats,
  dest: string,
  rel: string,
  opts: TreeOptions,
  overwriteDirMetadata: boolean,
  fresh: FreshDir | undefined,
): Promise<void> {
  const { limit } = opts;
  const existing = fresh ? undefined : await limit(() => lstat(dest).catch(() => undefined));
  if (existing && !existing.isDirectory()) await limit(() => rm(dest, { force: true }));
  const created = !existing?.isDirectory();
  let inner: FreshDir | undefined;
  if (created) {
    await limit(() => mkdir(dest));
    inner = await describeNewDir(dest, fresh, limit);
  }
  await copyChildren(src, dest, rel, opts, inner);
  if (created || overwriteDirMetadata) await limit(() => setMetadata(dest, st, opts, true));
}

/** How entries made in the directory just created at `dir` start out. */
async function describeNewDir(
  dir: string,
  parent: FreshDir | undefined,
  limit: LimitFunction,
): Promise<FreshDir> {
  // A new directory inherits its parent's set-group-ID bit and then its group; below a
  // directory this copy did not make, ask the file system once.
  if (parent) return parent;
  const st = await limit(() => lstat(dir));
  return { uid: st.uid, gid: st.gid, setgid: (st.mode & 0o2000) !== 0 };
}

async function copyChildren(
  src: string,
  dest: string,
  rel: string,
  opts: TreeOptions,
  fresh: FreshDir | undefined,
): Promise<void> {
  const entries = await opts.limit(() => readdir(src, { withFileTypes: true }));
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  await settleAll(
    entries.map((entry) =>
      copyChild(entry, src, dest, rel, opts, fresh).catch((error: unknown) => {
        opts.failure ??= error;
        throw error;
      }),
    ),
  );
}

async function copyChild(
  entry: Dirent,
  src: string,
  dest: string,
  rel: string,
  opts: TreeOptions,
  fresh: FreshDir | undefined,
): Promise<void> {
  const childSrc = path.join(src, entry.name);
  const childDest = path.join(dest, entry.name);
  const childRel = rel ? `${rel}/${entry.name}` : entry.name;
  if (entry.isDirectory()) {
    const st = await opts.limit(() => lstat(childSrc));
    await copyEntryIn(childSrc, st, childDest, childRel, opts, true, fresh);
    return;
  }
  // Non-directories do all their work in one slot: lstat, create, metadata.
  await opts
    .limit(async () => {
      opts.signal?.throwIfAborted();
      if (opts.failure !== undefined) throw opts.failure;
      if (isSkipped(childSrc, childRel, opts)) return;
      const st = await lstat(childSrc);
      if (st.isDirectory()) {
        // Replaced by a directory since readdir: copy it as one (outside this slot, below).
        return st;
      }
      await copyNonDirectory(childSrc, st, childDest, childRel, opts, fresh);
      return undefined;
    })
    .then(async (st) => {
      if (st) await copyEntryIn(childSrc, st, childDest, childRel, opts, true, fresh);
    });
}

/** Copy a file, symlink or special file; the caller holds a limiter slot. */
async function copyNonDirectory(
  src: string,
  st: Stats,
  dest: string,
  rel: string,
  opts: TreeOptions,
  fresh: FreshDir | undefined,
): Promise<void> {
  if (!fresh) {
    const existing = await lstat(dest).catch(() => undefined);
    if (existing?.isDirectory()) {
      throw new FileOpError(
        'TBUILD_COPY_DEST',
        `cannot replace directory /${rel || path.basename(dest)} with a file`,
      );
    }
    if (existing) await rm(dest, { force: true });
  }
  const inodeKey = st.nlink > 1 ? `${st.dev}:${st.ino}` : undefined;
  const linked = inodeKey ? opts.inodes.get(inodeKey) : undefined;
  if (linked) {
    // The first copy of this inode registered itself while holding its slot, so it is
    // already running and needs no further slot: waiting here cannot deadlock.
    await link(await linked, dest);
    return;
  }
  if (!inodeKey) {
    await createNonDirectory(src, st, dest, opts, fresh);
    return;
  }
  const done = createNonDirectory(src, st, dest, opts, fresh).then(() => dest);
  opts.inodes.set(inodeKey, done);
  await done;
}

async function createNonDirectory(
  src: string,
  st: Stats,
  dest: string,
  opts: TreeOptions,
  fresh: FreshDir | undefined,
): Promise<void> {
  if (st.isSymbolicLink()) {
    await symlink(await readlink(src), dest);
    await setMetadata(dest, st, opts, false, fresh);
  } else if (st.isFile()) {
    await copyFile(src, dest);
    await setMetadata(dest, st, opts, false, fresh);
  } else {
    await makeSpecialFile(dest, st);
    await setMetadata(dest, st, opts, false);
  }
}

/**
 * Owner, mode and times of a copied entry. With `fresh`, `dest` was just made by symlink or
 * copyFile in a directory this copy created, so its owner and (for files) mode are known.
 */
async function setMetadata(
  dest: string,
  st: Stats,
  opts: TreeOptions,
  isDir: boolean,
  fresh?: FreshDir,
): Promise<void> {
  const owner = opts.owner ?? opts.sourceOwner ?? { uid: st.uid, gid: st.gid };
  const ownedAlready = fresh !== undefined && isOwnedAtCreation(st, owner, fresh);
  if (!ownedAlready) await lchown(dest, owner.uid, owner.gid);
  if (!st.isSymbolicLink()) {
    const sourceMode = st.mode & 0o7777;
    const mode = opts.mode === undefined ? sourceMode : applyMode(opts.mode, st.mode, isDir);
    // copyFile gives the new file the source's mode; a chown clears its set-id bits again,
    // and so does its own write in a user namespace (no CAP_FSETID there, ADR 17).
    const setIdKept = (mode & 0o6000) === 0 || (ownedAlready && !inUserNamespace());
    const modeKept = fresh !== undefined && mode === sourceMode && setIdKept;
    if (!modeKept) await chmod(dest, mode);
  }
  await lutimes(dest, st.atime, st.mtime);
}

/**
 * Whether a just-created entry already has `owner`. A new symlink belongs to this process (or
 * the set-group-ID directory's group); libuv's copyFile also hands the new file the source's
 * owner in recent versions, so a file counts only when both agree.
 */
function isOwnedAtCreation(st: Stats, owner: Owner, fresh: FreshDir): boolean {
  const gid = fresh.setgid ? fresh.gid : processGid();
  if (owner.uid !== fresh.uid || owner.gid !== gid) return false;
  return st.isSymbolicLink() || (st.uid === owner.uid && st.gid === owner.gid);
}

let egid: number | undefined;

/** This process's effective group, the group of what it creates (it does not change). */
function processGid(): number {
  egid ??= process.getegid?.() ?? 0;
  return egid;
}

/** Wait for every task, then fail with the first error: no write outlives a failed copy. */
async function settleAll(tasks: Array<Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(tasks);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}
