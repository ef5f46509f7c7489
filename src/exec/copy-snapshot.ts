/**
 * The copying snapshotter: the last fallback when neither kernel overlayfs nor
 * fuse-overlayfs can be mounted (a rootless build on Linux < 5.11 without /dev/fuse).
 * Mounting copies the merged view of the lower layers (whiteouts and opaque directories
 * applied, as overlayfs shows them) into the mount point; unmounting moves what changed
 * into the upper directory in overlayfs's upper format — whiteouts as character devices
 * 0:0, re-created directories marked opaque with the overlay attribute — so the rest of
 * the store (the layer writer, later mounts) cannot tell which snapshotter wrote it.
 *
 * What changed is told by each entry's inode and ctime, recorded after the copy: any write,
 * chmod, chown, link or rename changes ctime, and no program can set it back. That is the
 * same test overlayfs applies (it copies an entry up on any of these), so the upper dirs
 * match a kernel overlay's for the same steps.
 */
import {
  chmodSync,
  chownSync,
  constants,
  copyFileSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  renameSync,
  symlinkSync,
  utimesSync,
} from 'node:fs';
import type { BigIntStats, Stats } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import path from 'node:path';
import { overlayOpaqueXattr } from '../shared/userns.ts';
import { delay, runCommand } from './command.ts';
import { MountError } from './errors.ts';
import type { Mount } from './overlay.ts';
import {
  isOverlayXattr,
  readPathXattrs,
  readTreeXattrs,
  writeXattrs,
  type XattrMap,
} from './xattrs.ts';

/** One entry of the merged lower view. */
interface MergedEntry {
  rel: string;
  /** Where it comes from (the topmost layer that has it). */
  abs: string;
  stat: Stats;
  /** Attributes to carry (overlay's own left out). */
  xattrs?: Map<string, Buffer>;
}

/** What the mount point held right after the copy, per relative path. */
interface IndexEntry {
  ino: bigint;
  birth: bigint;
  ctime: bigint;
  mtime: bigint;
  mode: number;
  uid: number;
  gid: number;
  size: bigint;
  dir: boolean;
}

interface CopyIndex {
  entries: Map<string, IndexEntry>;
  children: Map<string, string[]>;
}

/**
 * The tree work is synchronous: an asynchronous call costs a thread-pool round trip, which
 * for the thousands of small calls per entry was most of the time (10 s for Debian's 6,800
 * entries, 1 s now). The event loop gets a turn every `BREATHE` entries.
 */
const BREATHE = 256;
let sinceTurn = 0;

async function breathe(): Promise<void> {
  if (++sinceTurn < BREATHE) return;
  sinceTurn = 0;
  await nextTurn();
}

/** Entries handled at once (each yields between its synchronous steps). */
const PARALLEL = 4;

/** `rm -rf`: one process, much faster than a walk from here. */
async function removeTree(dir: string): Promise<void> {
  const removed = await runCommand('rm', ['-rf', '--one-file-system', dir]);
  if (removed.code !== 0) throw new MountError(`removing ${dir} failed: ${removed.stderr.trim()}`);
}

export interface CopyMountOptions {
  /** Absolute lower directories, nearest (topmost) first. */
  lower: readonly string[];
  /** Absolute upper directory; omit for a read-only view. */
  upper?: string;
  /** Absolute, empty mount point (created by the caller). */
  target: string;
}

/** Copy the merged lower view to `target`; its unmount moves the changes into `upper`. */
export async function mountCopy(options: CopyMountOptions): Promise<Mount> {
  const { lower, upper, target } = options;
  const merged = await mergeLayers(lower);
  await copyMerged(merged, target);
  let index: CopyIndex | undefined;
  if (upper !== undefined) {
    mkdirSync(upper, { recursive: true });
    index = await indexTree(target);
    // Coarse timestamps tick every few milliseconds: a write in the same tick as the
    // index could leave ctime unchanged.
    await delay(20);
  }
  let done: Promise<void> | undefined;
  const unmount = async (): Promise<void> => {
    if (upper !== undefined && index !== undefined) await diffInto(target, index, upper);
    await removeTree(target);
    mkdirSync(target, { recursive: true });
  };
  return { target, unmount: () => (done ??= unmount()) };
}

/** Whether `stat` is an overlay whiteout (character device 0:0). */
function isWhiteout(stat: Stats): boolean {
  return stat.isCharacterDevice() && stat.rdev === 0;
}

/** The merged view of `lower` (topmost first), in pre-order (parents before children). */
export async function mergeLayers(lower: readonly string[]): Promise<MergedEntry[]> {
  const opaqueName = overlayOpaqueXattr();
  /** rel → what the layers above decided: a directory that merges further, or closed. */
  const state = new Map<string, 'dir' | 'closed'>([['', 'dir']]);
  const found = new Map<string, MergedEntry>();
  for (const layer of lower) {
    const xattrs = await readTreeXattrs(layer);
    const opaque = (abs: string) => xattrs.get(abs)?.get(opaqueName)?.toString() === 'y';
    const carried = (abs: string) => {
      const attrs = xattrs.get(abs);
      if (!attrs) return undefined;
      const kept = new Map([...attrs].filter(([name]) => !isOverlayXattr(name)));
      return kept.size > 0 ? kept : undefined;
    };
    // The root of each layer merges like any directory; its own metadata counts only when
    // no layer above it gave one.
    if (!found.has('')) {
      const stat = lstatSync(layer);
      const attrs = carried(layer);
      found.set('', { rel: '', abs: layer, stat, ...(attrs ? { xattrs: attrs } : {}) });
    }
    if (opaque(layer)) {
      // An opaque root hides everything below this layer.
      await walkLayer(layer, '', state, found, opaque, carried);
      break;
    }
    await walkLayer(layer, '', state, found, opaque, carried);
  }
  return [...found.values()].sort((a, b) => comparePaths(a.rel, b.rel));
}

async function walkLayer(
  layer: string,
  dirRel: string,
  state: Map<string, 'dir' | 'closed'>,
  found: Map<string, MergedEntry>,
  opaque: (abs: string) => boolean,
  carried: (abs: string) => Map<string, Buffer> | undefined,
): Promise<void> {
  const dirAbs = path.join(layer, dirRel);
  let names: string[];
  try {
    names = readdirSync(dirAbs);
  } catch (err) {
    throw new MountError(`could not read layer directory ${dirAbs}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  for (const name of names) {
    const rel = dirRel === '' ? name : `${dirRel}/${name}`;
    const abs = path.join(layer, rel);
    await breathe();
    const stat = lstatSync(abs);
    const above = state.get(rel);
    if (above === 'closed') continue;
    if (above === 'dir') {
      // A directory above: a directory here merges into it, anything else is hidden.
      if (stat.isDirectory()) await walkLayer(layer, rel, state, found, opaque, carried);
      continue;
    }
    if (isWhiteout(stat)) {
      state.set(rel, 'closed');
      continue;
    }
    const attrs = carried(abs);
    found.set(rel, { rel, abs, stat, ...(attrs ? { xattrs: attrs } : {}) });
    if (stat.isDirectory() && !opaque(abs)) {
      state.set(rel, 'dir');
      await walkLayer(layer, rel, state, found, opaque, carried);
    } else {
      state.set(rel, 'closed');
      // An opaque directory's own children still count: only lower layers are hidden.
      if (stat.isDirectory()) await walkOpaque(layer, rel, state, found, carried);
    }
  }
}

/** The contents of an opaque directory: taken whole, nothing below merges in. */
async function walkOpaque(
  layer: string,
  dirRel: string,
  state: Map<string, 'dir' | 'closed'>,
  found: Map<string, MergedEntry>,
  carried: (abs: string) => Map<string, Buffer> | undefined,
): Promise<void> {
  for (const name of readdirSync(path.join(layer, dirRel))) {
    const rel = `${dirRel}/${name}`;
    const abs = path.join(layer, rel);
    await breathe();
    const stat = lstatSync(abs);
    state.set(rel, 'closed');
    if (isWhiteout(stat)) continue;
    const attrs = carried(abs);
    found.set(rel, { rel, abs, stat, ...(attrs ? { xattrs: attrs } : {}) });
    if (stat.isDirectory()) await walkOpaque(layer, rel, state, found, carried);
  }
}

/** Parents before children, siblings in byte order. */
function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  if (a === '') return -1;
  if (b === '') return 1;
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return pa[i]! < pb[i]! ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** Run `fn` over `items`, `PARALLEL` at a time. */
async function inParallel<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
}

/** Copy the merged entries into `target`, keeping owners, modes, times and xattrs. */
async function copyMerged(merged: readonly MergedEntry[], target: string): Promise<void> {
  const dirs = merged.filter((e) => e.stat.isDirectory());
  const others = merged.filter((e) => !e.stat.isDirectory());
  for (const entry of dirs) mkdirSync(path.join(target, entry.rel), { recursive: true });
  // Hard links between lower files are not kept: overlayfs copies up one name of them
  // alone, so a change through one name leaves the others as they were.
  await inParallel(others, (entry) => copyEntry(entry, path.join(target, entry.rel)));
  const attrs: XattrMap = new Map();
  for (const entry of merged) {
    if (entry.xattrs) attrs.set(path.join(target, entry.rel), entry.xattrs);
  }
  await writeXattrs(attrs, `${target}.xattrs`);
  // Deepest first: filling a directory changes its times.
  for (const entry of [...dirs].reverse()) {
    const dest = path.join(target, entry.rel);
    await breathe();
    chownSync(dest, entry.stat.uid, entry.stat.gid);
    chmodSync(dest, entry.stat.mode & 0o7777);
    utimesSync(dest, entry.stat.atime, entry.stat.mtime);
  }
}

async function copyEntry(entry: MergedEntry, dest: string): Promise<void> {
  await breathe();
  const { stat } = entry;
  if (stat.isSymbolicLink()) {
    symlinkSync(readlinkSync(entry.abs), dest);
    lchownSync(dest, stat.uid, stat.gid);
    lutimesSync(dest, stat.atime, stat.mtime);
    return;
  }
  if (stat.isFile()) {
    copyFileSync(entry.abs, dest, constants.COPYFILE_FICLONE);
  } else if (stat.isFIFO() || stat.isCharacterDevice() || stat.isBlockDevice()) {
    const type = stat.isFIFO() ? ['p'] : [stat.isCharacterDevice() ? 'c' : 'b', ...device(stat)];
    const made = await runCommand('mknod', [dest, ...type]);
    if (made.code !== 0) throw new MountError(`mknod ${dest} failed: ${made.stderr.trim()}`);
  } else return; // sockets: nothing to copy, as a tar would skip them
  // chown clears set-id bits, so the mode comes after it.
  chownSync(dest, stat.uid, stat.gid);
  chmodSync(dest, stat.mode & 0o7777);
  utimesSync(dest, stat.atime, stat.mtime);
}

function device(stat: Stats): string[] {
  const rdev = stat.rdev;
  const major = ((rdev >> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
  return [String(major), String(minor)];
}

/** Every entry under `root` (root itself as ''), with what tells a change. */
async function indexTree(root: string): Promise<CopyIndex> {
  const entries = new Map<string, IndexEntry>();
  const children = new Map<string, string[]>();
  const visit = async (rel: string): Promise<void> => {
    await breathe();
    const stat = lstatSync(path.join(root, rel), { bigint: true });
    entries.set(rel, toIndex(stat));
    if (!stat.isDirectory()) return;
    const names = readdirSync(path.join(root, rel));
    children.set(rel, names);
    await inParallel(names, (name) => visit(rel === '' ? name : `${rel}/${name}`));
  };
  await visit('');
  return { entries, children };
}

function toIndex(stat: BigIntStats): IndexEntry {
  return {
    ino: stat.ino,
    birth: stat.birthtimeNs,
    ctime: stat.ctimeNs,
    mtime: stat.mtimeNs,
    mode: Number(stat.mode),
    uid: Number(stat.uid),
    gid: Number(stat.gid),
    size: stat.size,
    dir: stat.isDirectory(),
  };
}

/** The same inode, untouched since the index was taken. */
function unchanged(before: IndexEntry, now: IndexEntry): boolean {
  return (
    before.ino === now.ino &&
    before.birth === now.birth &&
    before.ctime === now.ctime &&
    before.mtime === now.mtime &&
    before.mode === now.mode &&
    before.uid === now.uid &&
    before.gid === now.gid &&
    (before.dir || before.size === now.size)
  );
}

/** What goes into the upper dir. */
interface Plan {
  /** Directories kept from the lower view that hold changes: made, then given metadata. */
  dirs: string[];
  /** Entries moved whole (new or changed files, new directories with their contents). */
  moves: string[];
  /** Moved directories that replaced a lower entry: overlay marks them opaque. */
  opaque: string[];
  /** Lower entries that are gone. */
  whiteouts: string[];
  /** The kept directories' attributes, taken before anything moves out of them. */
  stats: Map<string, BigIntStats>;
}

/** Move the changes in `root` since `index` into `upper`, in overlayfs's upper format. */
async function diffInto(root: string, index: CopyIndex, upper: string): Promise<void> {
  const plan: Plan = { dirs: [], moves: [], opaque: [], whiteouts: [], stats: new Map() };
  await planDir(root, '', index, plan);
  for (const rel of plan.dirs) if (rel !== '') mkdirSync(path.join(upper, rel));
  for (const rel of plan.moves) await move(path.join(root, rel), path.join(upper, rel));
  await makeWhiteouts(plan.whiteouts.map((rel) => path.join(upper, rel)));
  // Kept directories take their attributes from the mount point, as a copy-up does.
  const sources = plan.dirs.map((rel) => path.join(root, rel));
  const found = await readPathXattrs(sources);
  const set: XattrMap = new Map();
  for (const rel of plan.dirs) {
    const attrs = [...(found.get(path.join(root, rel)) ?? [])].filter(
      ([name]) => !isOverlayXattr(name),
    );
    if (attrs.length > 0) set.set(path.join(upper, rel), new Map(attrs));
  }
  const opaque = overlayOpaqueXattr();
  for (const rel of plan.opaque) {
    const dest = path.join(upper, rel);
    set.set(dest, new Map([...(set.get(dest) ?? []), [opaque, Buffer.from('y')]]));
  }
  await writeXattrs(set, `${upper}.xattrs`);
  // The upper root keeps its own attributes: overlayfs shows the upper root's, not a copy.
  for (const rel of [...plan.dirs].reverse()) {
    if (rel === '') continue;
    const stat = plan.stats.get(rel)!;
    const dest = path.join(upper, rel);
    chownSync(dest, Number(stat.uid), Number(stat.gid));
    chmodSync(dest, Number(stat.mode) & 0o7777);
    utimesSync(dest, nsToSeconds(stat.atimeNs), nsToSeconds(stat.mtimeNs));
  }
}

/**
 * Plan the directory `rel`, which exists in the index as a directory and is the same
 * inode now. Returns whether anything in or under it changed.
 */
async function planDir(root: string, rel: string, index: CopyIndex, plan: Plan): Promise<boolean> {
  const child = (name: string) => (rel === '' ? name : `${rel}/${name}`);
  const selfStat = lstatSync(path.join(root, rel), { bigint: true });
  const self = toIndex(selfStat);
  const before = index.entries.get(rel)!;
  const names = readdirSync(path.join(root, rel));
  const sub: Plan = { dirs: [], moves: [], opaque: [], whiteouts: [], stats: plan.stats };
  let changed = !unchanged(before, self);
  for (const name of names.sort()) {
    const childRel = child(name);
    const was = index.entries.get(childRel);
    await breathe();
    const stat = toIndex(lstatSync(path.join(root, childRel), { bigint: true }));
    if (was && was.dir && stat.dir && was.ino === stat.ino && was.birth === stat.birth) {
      if (await planDir(root, childRel, index, sub)) changed = true;
      continue;
    }
    if (was && unchanged(was, stat)) continue;
    // New, replaced or modified: it goes up whole. A directory made where the lower view
    // had an entry hides what was there, as overlayfs's opaque directories do.
    sub.moves.push(childRel);
    if (stat.dir && was) sub.opaque.push(childRel);
    changed = true;
  }
  const present = new Set(names);
  for (const name of index.children.get(rel) ?? []) {
    if (!present.has(name)) {
      sub.whiteouts.push(child(name));
      changed = true;
    }
  }
  if (!changed) return false;
  plan.stats.set(rel, selfStat);
  plan.dirs.push(rel, ...sub.dirs);
  plan.moves.push(...sub.moves);
  plan.opaque.push(...sub.opaque);
  plan.whiteouts.push(...sub.whiteouts);
  return true;
}

/** Seconds, as utimes takes them, keeping what a double can of the nanoseconds. */
function nsToSeconds(ns: bigint): number {
  return Number(ns / 1000n) / 1e6;
}

/** rename(2), or a copy across filesystems. */
async function move(from: string, to: string): Promise<void> {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    const copied = await runCommand('cp', ['-a', '--reflink=auto', from, to]);
    if (copied.code !== 0) throw new MountError(`copying ${from} failed: ${copied.stderr.trim()}`);
  }
}

/** Overlay whiteouts (char 0:0); one mknod, hard links for the rest, as overlayfs does. */
export async function makeWhiteouts(paths: readonly string[]): Promise<void> {
  const [first, ...rest] = paths;
  if (first === undefined) return;
  const made = await runCommand('mknod', ['-m', '0', first, 'c', '0', '0']);
  if (made.code !== 0) throw new MountError(`mknod ${first} failed: ${made.stderr.trim()}`);
  for (const p of rest) linkSync(first, p);
}
