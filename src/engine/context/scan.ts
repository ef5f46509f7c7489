/**
 * Walk a local build context honouring .dockerignore, stat every entry and compute
 * content digests, reusing the stat cache so that an unchanged file is never read.
 *
 * The walk uses synchronous readdir/lstat on purpose: with a warm dentry cache each call
 * costs about a microsecond, while a promise round-trip through libuv's thread pool
 * costs several; 20,000 entries stay well under the no-op budget this way. Only content
 * hashing (real I/O) is asynchronous and concurrent.
 */
import { createHash } from 'node:crypto';
import {
  createReadStream,
  lstatSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  statSync,
} from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import pLimit from 'p-limit';
import { createIgnoreMatcher } from '../../shared/dockerignore.ts';
import type { IgnoreMatcher, IgnoreState } from '../../shared/dockerignore.ts';
import { CancelledError } from '../../shared/errors.ts';
import { ContextNotFoundError, ContextReadError } from './errors.ts';
import type { StatCache } from './stat-cache.ts';
import type { ContextFile, ContextSnapshot } from './types.ts';

/** Files up to this size are read in one call; larger ones are streamed. */
const WHOLE_READ_LIMIT = 1 << 20;
const HASH_CONCURRENCY = 8;

interface PendingHash {
  abs: string;
  stat: BigIntStats;
  record: ContextFile;
}

interface WalkState {
  matcher: IgnoreMatcher;
  files: Map<string, ContextFile>;
  pending: PendingHash[];
  seen: Set<string>;
  statCache: StatCache;
  reused: number;
  signal: AbortSignal | undefined;
}

/** An excluded directory walked only because an exception may re-include something below. */
interface HeldDir {
  record: ContextFile;
  parent: HeldDir | undefined;
  emitted: boolean;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError('context scan cancelled');
}

function typeOf(stat: BigIntStats): ContextFile['type'] {
  if (stat.isFile()) return 'file';
  if (stat.isDirectory()) return 'dir';
  if (stat.isSymbolicLink()) return 'symlink';
  return 'other';
}

function makeRecord(path: string, abs: string, stat: BigIntStats): ContextFile {
  const type = typeOf(stat);
  const record: ContextFile = {
    path,
    type,
    mode: Number(stat.mode & 0o7777n),
    uid: Number(stat.uid),
    gid: Number(stat.gid),
    size: type === 'dir' ? 0 : Number(stat.size),
  };
  if (type === 'symlink') record.linkTarget = readlinkSync(abs);
  return record;
}

/** Emit held (excluded) ancestors first so that parents always precede children. */
function emitHeld(state: WalkState, held: HeldDir | undefined): void {
  if (held === undefined || held.emitted) return;
  emitHeld(state, held.parent);
  held.emitted = true;
  state.files.set(held.record.path, held.record);
}

function listDir(abs: string, rel: string): string[] {
  try {
    return readdirSync(abs).sort();
  } catch (err) {
    throw new ContextReadError(rel || '.', err);
  }
}

function walkDir(
  state: WalkState,
  abs: string,
  rel: string,
  parent: IgnoreState | undefined,
  held: HeldDir | undefined,
): void {
  checkAborted(state.signal);
  for (const name of listDir(abs, rel)) {
    const childRel = rel === '' ? name : `${rel}/${name}`;
    const childAbs = `${abs}/${name}`;
    const stat = lstatSync(childAbs, { bigint: true, throwIfNoEntry: false });
    // Deleted between readdir and lstat (an editor's temp file): it is simply not part of the context.
    if (stat === undefined) continue;
    const match = state.matcher.empty
      ? { excluded: false, state: undefined }
      : state.matcher.matchWithParent(childRel, parent);
    if (match.excluded) {
      if (stat.isDirectory() && state.matcher.mayContainIncluded(childRel)) {
        const heldDir: HeldDir = {
          record: makeRecord(childRel, childAbs, stat),
          parent: held,
          emitted: false,
        };
        walkDir(state, childAbs, childRel, match.state, heldDir);
      }
      continue;
    }
    emitHeld(state, held);
    const record = makeRecord(childRel, childAbs, stat);
    state.files.set(childRel, record);
    if (record.type === 'dir') {
      walkDir(state, childAbs, childRel, match.state, undefined);
    } else if (record.type === 'file') {
      state.seen.add(childAbs);
      const digest = state.statCache.lookup(childAbs, stat);
      if (digest === undefined) state.pending.push({ abs: childAbs, stat, record });
      else {
        record.digest = digest;
        state.reused++;
      }
    }
  }
}

async function hashFile(abs: string, size: bigint): Promise<string> {
  const hash = createHash('sha256');
  if (size <= BigInt(WHOLE_READ_LIMIT)) {
    hash.update(await readFile(abs));
  } else {
    for await (const chunk of createReadStream(abs, { highWaterMark: 1 << 20 }))
      hash.update(chunk as Buffer);
  }
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Whether a digest may be cached for this stat. File timestamps come from a coarse clock,
 * so a write right after our read can keep the same mtime/ctime (git's "racy clean"
 * problem); only files whose ctime is safely older than the read are cached. A ctime with
 * no sub-second part suggests a filesystem with 1-second timestamps.
 */
function isSafeToCache(stat: BigIntStats, readStartMs: number): boolean {
  const ctimeMs = Number(stat.ctimeNs / 1_000_000n);
  const margin = stat.ctimeNs % 1_000_000_000n === 0n ? 2000 : 50;
  return ctimeMs < readStartMs - margin;
}

async function hashPending(state: WalkState): Promise<void> {
  const limit = pLimit(HASH_CONCURRENCY);
  await Promise.all(
    state.pending.map((job) =>
      limit(async () => {
        checkAborted(state.signal);
        const readStartMs = Date.now();
        let digest: string;
        try {
          digest = await hashFile(job.abs, job.stat.size);
        } catch (err) {
          throw new ContextReadError(job.record.path, err);
        }
        job.record.digest = digest;
        if (isSafeToCache(job.stat, readStartMs)) state.statCache.record(job.abs, job.stat, digest);
      }),
    ),
  );
}

function resolveRoot(root: string): string {
  try {
    const real = realpathSync(root);
    if (statSync(real).isDirectory()) return real;
  } catch (err) {
    throw new ContextNotFoundError(root, { cause: err });
  }
  throw new ContextNotFoundError(root);
}

/**
 * Scan the context at `root`: every path not excluded by `patterns` (as parseDockerignore
 * returns them), with type, mode, owner, size, link target and, for files, a content
 * digest. Digests come from `statCache` when (dev, ino, size, mtime, ctime) are
 * unchanged; other files are hashed. The cache is updated but not saved.
 */
export async function scanContext(
  root: string,
  patterns: string[],
  statCache: StatCache,
  signal?: AbortSignal,
): Promise<ContextSnapshot> {
  const realRoot = resolveRoot(root);
  const state: WalkState = {
    matcher: createIgnoreMatcher(patterns),
    files: new Map(),
    pending: [],
    seen: new Set(),
    statCache,
    reused: 0,
    signal,
  };
  walkDir(state, realRoot, '', undefined, undefined);
  await hashPending(state);
  statCache.retainUnder(realRoot, state.seen);
  return {
    root: realRoot,
    files: state.files,
    stats: { entries: state.files.size, hashed: state.pending.length, reused: state.reused },
  };
}
