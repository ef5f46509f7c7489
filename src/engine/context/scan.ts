/**
 * Walk a local build context honouring .dockerignore, stat every entry and compute
 * content digests, reusing the stat cache so that an unchanged file is never read.
 *
 * The tree is read through a TreeReader: the disk itself, or a listing that find(1) made
 * in parallel (listing.ts). The disk reader uses synchronous readdir/lstat on purpose:
 * with a warm dentry cache each call costs a few microseconds, while a promise round-trip
 * through libuv's thread pool costs more. Content is read synchronously too, in worker
 * threads when there is much of it (hashPending).
 */
import {
  constants as fsConstants,
  lstatSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { createIgnoreMatcher } from '../../shared/dockerignore.ts';
import type { IgnoreMatcher, IgnoreState } from '../../shared/dockerignore.ts';
import { CancelledError } from '../../shared/errors.ts';
import { workerScript } from '../../shared/worker-script.ts';
import { ContextNotFoundError, ContextReadError } from './errors.ts';
import { hashOutcome, type HashOutcome, type HashTask } from './hash-file.ts';
import type { StatCache } from './stat-cache.ts';
import type { ContextFile, ContextSnapshot } from './types.ts';

/** Up to this many files (and bytes) to hash, this thread hashes them itself. */
const IN_PROCESS_FILES = 64;
const IN_PROCESS_BYTES = 8 << 20;
const MAX_HASH_WORKERS = 4;
/** What a file costs beyond its bytes (open, read, close), for splitting work evenly. */
const PER_FILE_BYTES = 16 << 10;
const { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK } = fsConstants;
/**
 * Number stats, not bigint: a BigIntStats allocates a heap bigint per field, and the scan
 * makes 20,000 of them on a large context (see stat-cache.ts for why numbers are exact enough).
 */
const LSTAT_OPTIONS = { throwIfNoEntry: false } as const;

/** What the scan needs of an entry's lstat (Node's Stats has it all). */
export interface EntryStat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  dev: number;
  ino: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** Where the walk reads the tree from; `abs` and `rel` name the same entry. */
export interface TreeReader {
  /** The entry names of a directory, sorted by UTF-16 code units. */
  list(abs: string, rel: string): string[];
  /** The entry's lstat, or undefined when it has vanished. */
  lstat(abs: string, rel: string): EntryStat | undefined;
  /** A symlink's target. */
  readlink(abs: string, rel: string): string;
}

/** The disk, read synchronously. */
export const diskReader: TreeReader = {
  list(abs, rel) {
    try {
      return readdirSync(abs).sort();
    } catch (err) {
      throw new ContextReadError(rel || '.', err);
    }
  },
  lstat: (abs) => lstatSync(abs, LSTAT_OPTIONS),
  readlink: (abs) => readlinkSync(abs),
};

interface PendingHash {
  abs: string;
  stat: EntryStat;
  record: ContextFile;
}

interface WalkState {
  reader: TreeReader;
  matcher: IgnoreMatcher;
  files: Map<string, ContextFile>;
  /** Excluded entries, each with the held directory it is in (if any). */
  excluded: Array<{ path: string; owner: HeldDir | undefined }>;
  pending: PendingHash[];
  statCache: StatCache;
  reused: number;
  /** Files whose digest the cache now holds for their current version (reused + recorded). */
  cached: number;
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

function typeOf(mode: number): ContextFile['type'] {
  const format = mode & S_IFMT;
  if (format === S_IFREG) return 'file';
  if (format === S_IFDIR) return 'dir';
  if (format === S_IFLNK) return 'symlink';
  return 'other';
}

function makeRecord(reader: TreeReader, path: string, abs: string, stat: EntryStat): ContextFile {
  const type = typeOf(stat.mode);
  const record: ContextFile = {
    path,
    type,
    mode: stat.mode & 0o7777,
    uid: stat.uid,
    gid: stat.gid,
    size: type === 'dir' ? 0 : stat.size,
  };
  if (type === 'symlink') record.linkTarget = reader.readlink(abs, path);
  return record;
}

/** Emit held (excluded) ancestors first so that parents always precede children. */
function emitHeld(state: WalkState, held: HeldDir | undefined): void {
  if (held === undefined || held.emitted) return;
  emitHeld(state, held.parent);
  held.emitted = true;
  state.files.set(held.record.path, held.record);
}

function walkDir(
  state: WalkState,
  abs: string,
  rel: string,
  parent: IgnoreState | undefined,
  held: HeldDir | undefined,
): void {
  checkAborted(state.signal);
  const reader = state.reader;
  for (const name of reader.list(abs, rel)) {
    const childRel = rel === '' ? name : `${rel}/${name}`;
    const childAbs = `${abs}/${name}`;
    const stat = reader.lstat(childAbs, childRel);
    // Deleted between readdir and lstat (an editor's temp file): it is simply not part of the context.
    if (stat === undefined) continue;
    let childState: IgnoreState | undefined;
    if (!state.matcher.empty) {
      const match = state.matcher.matchWithParent(childRel, parent);
      childState = match.state;
      if (match.excluded) {
        if ((stat.mode & S_IFMT) === S_IFDIR && state.matcher.mayContainIncluded(childRel)) {
          const heldDir: HeldDir = {
            record: makeRecord(reader, childRel, childAbs, stat),
            parent: held,
            emitted: false,
          };
          walkDir(state, childAbs, childRel, childState, heldDir);
          if (!heldDir.emitted) state.excluded.push({ path: childRel, owner: held });
        } else {
          state.excluded.push({ path: childRel, owner: held });
        }
        continue;
      }
      emitHeld(state, held);
    }
    const record = makeRecord(reader, childRel, childAbs, stat);
    state.files.set(childRel, record);
    if (record.type === 'dir') {
      walkDir(state, childAbs, childRel, childState, undefined);
    } else if (record.type === 'file') {
      const digest = state.statCache.lookupIn(abs, name, stat);
      if (digest === undefined) state.pending.push({ abs: childAbs, stat, record });
      else {
        record.digest = digest;
        state.reused++;
      }
    }
  }
}

/**
 * Whether a digest may be cached for this stat. File timestamps come from a coarse clock,
 * so a write right after our read can keep the same mtime/ctime (git's "racy clean"
 * problem); only files whose ctime is safely older than the read are cached. A ctime with
 * no sub-second part suggests a filesystem with 1-second timestamps.
 */
function isSafeToCache(stat: EntryStat, readStartMs: number): boolean {
  // ctimeMs is sec * 1e3 + nsec / 1e6, a whole number of seconds exactly when nsec is 0.
  const margin = stat.ctimeMs % 1000 === 0 ? 2000 : 50;
  return stat.ctimeMs < readStartMs - margin;
}

/**
 * Hash the files the stat cache did not know. A few are hashed here; more are split by
 * size between worker threads, one per core (up to four), which read and hash in parallel
 * while this thread waits.
 */
async function hashPending(state: WalkState): Promise<void> {
  checkAborted(state.signal);
  const readStartMs = Date.now();
  const bytes = state.pending.reduce((sum, job) => sum + job.stat.size, 0);
  const script =
    state.pending.length > IN_PROCESS_FILES || bytes > IN_PROCESS_BYTES
      ? workerScript('hash-worker', import.meta.url)
      : undefined;
  const outcomes =
    script === undefined
      ? state.pending.map(({ abs }) => hashOutcome(abs))
      : await hashInWorkers(script, state.pending, bytes, state.signal);
  state.pending.forEach((job, i) => {
    const outcome = outcomes[i]!;
    if ('error' in outcome) {
      const cause = Object.assign(new Error(outcome.error), { code: outcome.code });
      throw new ContextReadError(job.record.path, cause);
    }
    job.record.digest = outcome.digest;
    if (isSafeToCache(job.stat, readStartMs)) {
      state.statCache.record(job.abs, job.stat, outcome.digest);
      state.cached++;
    }
  });
}

/** Contiguous runs of about equal bytes, one per worker; outcomes in `jobs` order. */
async function hashInWorkers(
  script: URL,
  jobs: readonly PendingHash[],
  bytes: number,
  signal: AbortSignal | undefined,
): Promise<HashOutcome[]> {
  const count = Math.max(1, Math.min(MAX_HASH_WORKERS, availableParallelism(), jobs.length));
  const runs: string[][] = [];
  let run: string[] = [];
  let runBytes = 0;
  for (const job of jobs) {
    run.push(job.abs);
    runBytes += job.stat.size + PER_FILE_BYTES;
    if (runs.length < count - 1 && runBytes >= (bytes + jobs.length * PER_FILE_BYTES) / count) {
      runs.push(run);
      run = [];
      runBytes = 0;
    }
  }
  runs.push(run);
  const { Worker } = await import('node:worker_threads'); // loaded when first needed
  const workers = runs.map(
    (files) => new Worker(script, { workerData: { files } satisfies HashTask }),
  );
  const stop = (): void => void Promise.all(workers.map((w) => w.terminate()));
  signal?.addEventListener('abort', stop, { once: true });
  try {
    const replies = await Promise.all(workers.map(replyOf));
    checkAborted(signal);
    return replies.flat();
  } catch (error) {
    checkAborted(signal); // a worker stopped by the abort: say it was cancelled
    throw error;
  } finally {
    signal?.removeEventListener('abort', stop);
    stop();
  }
}

function replyOf(worker: Worker): Promise<HashOutcome[]> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) =>
      reject(new Error(`context hashing worker exited with code ${code}`)),
    );
  });
}

/**
 * Drop cache entries under the root that this scan did not see. When the cache holds
 * exactly the files just seen (the usual no-op rebuild: every file reused), nothing can
 * be stale and the 20,000-path set is never built.
 */
function forgetUnseen(state: WalkState, realRoot: string): void {
  const files = state.pending.length + state.reused;
  if (state.cached === files && state.statCache.size === files) return;
  const seen = new Set<string>();
  for (const f of state.files.values()) if (f.type === 'file') seen.add(`${realRoot}/${f.path}`);
  state.statCache.retainUnder(realRoot, seen);
}

export function resolveRoot(root: string): string {
  try {
    const real = realpathSync(root);
    if (statSync(real).isDirectory()) return real;
  } catch (err) {
    throw new ContextNotFoundError(root, { cause: err });
  }
  throw new ContextNotFoundError(root);
}

export interface ScanOptions {
  signal?: AbortSignal | undefined;
  /** Read the tree from here instead of the disk (a listing of the same root). */
  reader?: TreeReader | undefined;
}

/**
 * Scan the context at `root`: every path not excluded by `patterns` (as parseDockerignore
 * returns them), with type, mode, owner, size, link target and, for files, a content
 * digest. Digests come from `statCache` when (dev, ino, size, mtime, ctime) are
 * unchanged; other files are hashed. The cache is updated but not saved.
 */
export async function scanContext(
  root: string,
  patterns: readonly string[],
  statCache: StatCache,
  options: ScanOptions = {},
): Promise<ContextSnapshot> {
  const { signal, reader = diskReader } = options;
  const realRoot = resolveRoot(root);
  const state: WalkState = {
    reader,
    matcher: createIgnoreMatcher(patterns),
    files: new Map(),
    excluded: [],
    pending: [],
    statCache,
    reused: 0,
    cached: 0,
    signal,
  };
  walkDir(state, realRoot, '', undefined, undefined);
  await hashPending(state);
  state.cached += state.reused;
  forgetUnseen(state, realRoot);
  const fileCount = state.pending.length + state.reused;
  return {
    root: realRoot,
    files: state.files,
    // An entry inside an excluded directory that stays hidden is covered by that directory.
    excluded: state.excluded.filter((e) => e.owner?.emitted ?? true).map((e) => e.path),
    stats: {
      entries: state.files.size,
      hashed: state.pending.length,
      reused: state.reused,
      allCached: state.cached === fileCount,
    },
  };
}
