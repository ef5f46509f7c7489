/**
 * Incremental COPY (ADR 0018): a COPY of a context directory that missed only because
 * some of its files changed makes its new layer from the one it made last time, onto the
 * same parent, instead of copying every file again.
 *
 * 1. plan: which source paths to copy again and which of last time's entries to drop.
 *    Every entry whose record (type, mode, owner, size, link target, content) changed,
 *    appeared or went is redone, and so is every entry whose mtime moved (the records
 *    leave times out, a layer does not). The directories above a redone entry take the
 *    source's metadata again.
 * 2. seed: the new snapshot's upper directory starts as a hard-link clone of the previous
 *    one (`cp -al`, started while the plan is made); the entries to redo are removed from
 *    it before anything is mounted.
 *    Committed snapshots are never written again, and the redone entries are unlinked
 *    before they are written, so no write reaches an inode the two layers share.
 * 3. the COPY runs as usual, through the overlay of the clone on the parent, but sees
 *    only the paths to redo: every write, whiteout and metadata rule is the full COPY's.
 *
 * Whatever this module cannot prove equal to a full copy gives `undefined` from plan(),
 * and the COPY runs in full.
 */
import { lstat, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { CopyAction } from '../../llb/types.ts';
import { runCommand } from '../../exec/command.ts';
import type { ContentChange } from '../../solver/types.ts';
import type { ContextSnapshot } from '../context/types.ts';
export { canCopyIncrementally } from './incremental-eligible.ts';
import { FileOpError } from './errors.ts';
import { cleanPath, resolveInRoot } from './paths.ts';

export interface IncrementalPlan {
  /** Context paths (posix, '' = root) the restricted COPY visits: redone entries and their parents. */
  visit: ReadonlySet<string>;
  /** Paths below the destination directory to remove from the clone before the COPY. */
  drop: readonly string[];
  /** The destination directory, relative to the layer root ('' = the root). */
  destRel: string;
  /**
   * The times of the directories from the layer root down to the destination, as a full
   * COPY leaves them: its own time (`mtime` unset) where it makes an entry in them, the
   * parent's where it only copies them up. The clone has last time's.
   */
  times: ReadonlyArray<{ rel: string; mtime?: Date }>;
}

/**
 * Work out the plan for `action` (copying the context directory `action.src`), given what
 * changed in the context since `previous` (the upper dir of last time's result) was made,
 * and `baseRoot`, a read-only view of the parent the COPY writes onto.
 */
export async function planIncrementalCopy(options: {
  action: CopyAction;
  contextRoot: string;
  snapshot: ContextSnapshot;
  change: ContentChange;
  baseRoot: string;
  previous: string;
}): Promise<IncrementalPlan | undefined> {
  const { action, contextRoot, snapshot, change, baseRoot, previous } = options;
  const srcRel = cleanPath(action.src).slice(1);
  // The source must be a directory of the context, named without symlinks.
  if (srcRel !== '' && snapshot.files.get(srcRel)?.type !== 'dir') return undefined;
  if ((await resolveInRoot(contextRoot, '/' + srcRel, true)) !== path.join(contextRoot, srcRel))
    return undefined;
  const below = (p: string): string | undefined =>
    srcRel === ''
      ? p
      : p === srcRel
        ? ''
        : p.startsWith(srcRel + '/')
          ? p.slice(srcRel.length + 1)
          : undefined;

  if (action.exclude && action.exclude.length > 0) return undefined;
  const destRel = await destinationOf(action, baseRoot);
  if (destRel === undefined) return undefined;
  const destInPrevious = path.join(previous, destRel);
  if (!(await lstat(destInPrevious).catch(() => undefined))?.isDirectory()) return undefined;

  // Paths below the copied directory: what to redo, and what only needs its metadata again.
  const redo = new Set<string>();
  const touchDirs = new Set<string>();
  for (const list of [change.added, change.removed, change.modified]) {
    for (const p of list) {
      const rel = below(p);
      if (rel === undefined) return undefined;
      const now = snapshot.files.get(p);
      if (list === change.modified && now?.type === 'dir') {
        // A directory stays a directory (its entries are records of their own): only its
        // metadata is redone, unless it was something else before.
        const before = await lstat(path.join(destInPrevious, rel)).catch(() => undefined);
        if (before?.isDirectory()) {
          touchDirs.add(rel);
          continue;
        }
      }
      if (rel === '') return undefined; // the copied directory itself changed type
      // A hard link to a file this COPY does not redo would become a copy of its own.
      if (now?.type === 'file' && (await lstat(path.join(contextRoot, p))).nlink > 1)
        return undefined;
      redo.add(rel);
    }
  }
  const moved = await movedTimes(path.join(contextRoot, srcRel), destInPrevious);
  if (moved === undefined) return undefined;
  for (const [rel, isDir] of moved) {
    if (redo.has(rel) || touchDirs.has(rel)) continue;
    if (isDir) touchDirs.add(rel);
    else {
      const p = srcRel === '' ? rel : `${srcRel}/${rel}`;
      if (
        snapshot.files.get(p)?.type === 'file' &&
        (await lstat(path.join(contextRoot, p))).nlink > 1
      )
        return undefined;
      redo.add(rel);
    }
  }

  const visit = new Set<string>();
  const toContext = (rel: string): string =>
    srcRel === '' ? rel : rel === '' ? srcRel : `${srcRel}/${rel}`;
  for (const rel of [...redo, ...touchDirs]) {
    let p = toContext(rel);
    visit.add(p);
    while (p !== '') {
      p = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
      visit.add(p);
    }
  }
  visit.add(toContext(''));
  const times = await chainTimes(destRel, baseRoot, async (dest) => {
    // The destination gets an entry of its own unless every top-level source entry is a
    // directory it already has (those are only copied up, which keeps its time).
    const prefix = srcRel === '' ? '' : srcRel + '/';
    for (const f of snapshot.files.values()) {
      if (!f.path.startsWith(prefix) || f.path.length === prefix.length) continue;
      if (f.path.slice(prefix.length).includes('/')) continue;
      if (f.type !== 'dir') return true;
      const there = await lstat(path.join(dest, f.path.slice(prefix.length))).catch(
        () => undefined,
      );
      if (!there?.isDirectory()) return true;
    }
    return false;
  });
  return { visit, drop: [...redo].sort(), destRel, times };
}

/**
 * What a full COPY leaves as the times of the directories from the root to `destRel`: the
 * layer root and every directory it creates or makes an entry in get its own time; one it
 * only copies up keeps the parent's.
 */
async function chainTimes(
  destRel: string,
  baseRoot: string,
  destGetsEntries: (destInBase: string) => Promise<boolean>,
): Promise<Array<{ rel: string; mtime?: Date }>> {
  const parts = destRel.split(path.sep).filter(Boolean);
  const times: Array<{ rel: string; mtime?: Date }> = [{ rel: '' }];
  for (let i = 1; i <= parts.length; i++) {
    const rel = parts.slice(0, i).join('/');
    const inBase = await lstat(path.join(baseRoot, rel)).catch(() => undefined);
    const getsEntry =
      inBase === undefined ||
      (i < parts.length
        ? !(await lstat(path.join(baseRoot, rel, parts[i]!)).catch(() => undefined))
        : await destGetsEntries(path.join(baseRoot, rel)));
    times.push(getsEntry || !inBase ? { rel } : { rel, mtime: inBase.mtime });
  }
  return times;
}

/**
 * Where the COPY puts the directory's entries, relative to the layer root, resolved in
 * the parent as copyOne does; undefined where the destination is not a plain directory
 * path (a file in the way, a copy into a new subdirectory of an existing one).
 */
async function destinationOf(action: CopyAction, baseRoot: string): Promise<string | undefined> {
  if (!action.dirContentsOnly) return undefined;
  const destHost = await resolveInRoot(baseRoot, cleanPath(action.dest), true);
  const st = await lstat(destHost).catch(() => undefined);
  if (st && !st.isDirectory()) return undefined;
  const rel = path.relative(baseRoot, destHost);
  if (rel.startsWith('..')) return undefined;
  return rel;
}

/**
 * Entries below the copied directory whose whole-second mtime differs between the
 * source and last time's copy of it (`true` for directories). A full COPY gives every
 * entry the source's mtime; the records (and so the cache key) do not include it.
 */
async function movedTimes(
  source: string,
  copied: string,
): Promise<Map<string, boolean> | undefined> {
  const [now, then] = await Promise.all([listTimes(source), listTimes(copied)]);
  if (now === undefined || then === undefined) return undefined;
  const moved = new Map<string, boolean>();
  for (const [rel, before] of then) {
    const after = now.get(rel);
    if (after !== undefined && Math.floor(after / 2) !== Math.floor(before / 2))
      moved.set(rel, Math.abs(after % 2) === 1);
  }
  return moved;
}

/**
 * Every entry's whole-second mtime, doubled, plus 1 for a directory (one number per entry:
 * 20,000 of them are parsed on the way to a one-file rebuild).
 */
async function listTimes(dir: string): Promise<Map<string, number> | undefined> {
  const result = await runCommand('find', [dir, '-mindepth', '1', '-printf', '%T@ %y %P\\0']);
  if (result.code !== 0 || result.stdout.includes('\uFFFD')) return undefined;
  const times = new Map<string, number>();
  for (const line of result.stdout.split('\0')) {
    if (line === '') continue;
    // "<seconds>.<fraction> <type letter> <path>"
    const space = line.indexOf(' ');
    const seconds = parseInt(line, 10);
    times.set(line.slice(space + 3), seconds * 2 + (line[space + 1] === 'd' ? 1 : 0));
  }
  return times;
}

/**
 * A hard-link clone of `previous` (a committed snapshot directory) at `<tempDir>/fs`,
 * started before the plan is known: the clone (~0.4 s for 20,000 files) and the planning
 * then overlap. Moved into place by seedFromPrevious, or thrown away with discardClone.
 */
export async function cloneLayer(previous: string, tempDir: string): Promise<string> {
  const target = path.join(tempDir, 'fs');
  const cloned = await runCommand('cp', ['-a', '--link', '--no-dereference', previous, target]);
  if (cloned.code !== 0)
    throw new FileOpError(
      'TBUILD_INCREMENTAL_COPY',
      `cannot clone the previous layer: ${cloned.stderr.trim()}`,
    );
  return target;
}

/** Remove a clone that is not used (in the background: it is in this process's temp dir). */
export function discardClone(clone: Promise<string>): void {
  clone.then(
    (dir) => rm(path.dirname(dir), { recursive: true, force: true }).catch(() => undefined),
    () => undefined,
  );
}

/**
 * Make `upper` (a new, empty snapshot directory) the clone of the previous layer, without
 * the entries `plan.drop` names. Nothing here follows a symlink: a dropped path that
 * crosses one is refused (it cannot come from a COPY's own entries).
 */
export async function seedFromPrevious(
  clone: Promise<string>,
  previous: string,
  upper: string,
  plan: IncrementalPlan,
): Promise<void> {
  // rename(2) replaces an empty directory. Should the early clone have failed (the store's
  // temp directory on another file system, say), the previous layer is linked in here.
  const cloned = await clone.catch(() => undefined);
  const moved =
    cloned !== undefined &&
    (await rename(cloned, upper).then(
      () => true,
      () => false,
    ));
  if (moved) await rm(path.dirname(cloned), { recursive: true, force: true });
  else {
    if (cloned !== undefined) discardClone(clone);
    const copied = await runCommand('cp', [
      '-a',
      '--link',
      '--no-dereference',
      `${previous}/.`,
      upper,
    ]);
    if (copied.code !== 0)
      throw new FileOpError(
        'TBUILD_INCREMENTAL_COPY',
        `cannot clone the previous layer: ${copied.stderr.trim()}`,
      );
  }
  for (const rel of plan.drop) {
    const parts = path.join(plan.destRel, rel).split(path.sep).filter(Boolean);
    let current = upper;
    let crossesLink = false;
    for (const part of parts.slice(0, -1)) {
      current = path.join(current, part);
      const st = await lstat(current).catch(() => undefined);
      if (st === undefined) break;
      if (!st.isDirectory()) crossesLink = true;
    }
    if (crossesLink) continue; // nothing of this COPY's own can be below a non-directory
    await rm(path.join(upper, plan.destRel, rel), { recursive: true, force: true });
  }
}
