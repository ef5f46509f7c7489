/**
 * The solver's contract. The solver schedules vertices of an LLB Definition and caches
 * their results; it knows nothing about what an op does. A Worker (src/engine) supplies
 * one OpHandler per vertex and the result cache.
 *
 * `R` is the worker's result type (for the engine: a reference to a snapshot or a local
 * directory). The solver never looks inside it.
 */
import type { Definition, Digest, Vertex } from '../llb/types.ts';
import type { ProgressSink } from '../shared/progress.ts';

export interface OpContext {
  readonly digest: Digest;
  /** Aborted when the build is cancelled (Ctrl-C, or another vertex failed). */
  readonly signal: AbortSignal;
  /** Stream a line/chunk of the op's output to progress. */
  log(stream: 'stdout' | 'stderr', data: string): void;
  /** Report byte or item progress for a sub-task of this op. */
  progress(id: string, current: number, total?: number): void;
}

export interface CacheMap {
  /**
   * The op's own contribution to the cache key. For most ops the vertex digest; sources
   * put the resolved content identity here (an image's manifest digest).
   */
  digest: Digest;
  /**
   * One entry per input, in order. By default an input enters the key through its own
   * cache key. With `contentSelectors`, it enters through the content checksum of those
   * paths in the input's result (so COPY of one file depends on that file only).
   */
  deps?: ReadonlyArray<{ contentSelectors?: readonly string[] } | undefined>;
  /**
   * Results of this op are never stored in or read from the result cache (cheap ops
   * such as a local context reference). Its key is still computed.
   */
  uncacheable?: boolean;
  /**
   * On a miss, offer the op its own previous result (PreviousRun) when the last time it
   * ran only the content of its content-keyed inputs differed. For ops that can update a
   * result in place of making it again (a COPY of a large directory).
   */
  incremental?: boolean;
}

/**
 * The result the same op gave the last time it ran, with what changed since in the
 * content it is keyed on. Offered only when nothing else in its key differs: the same op,
 * the same cache keys of the other inputs.
 */
export interface PreviousRun<R> {
  /** That run's results, from the result cache. */
  results: readonly R[];
  /** Per input: the files that changed in its content (undefined: keyed by cache key). */
  changes: ReadonlyArray<ContentChange | undefined>;
}

/** The previous run's lookup, made on the first call; undefined when there is none. */
export type LookUpPreviousRun<R> = () => Promise<PreviousRun<R> | undefined>;

export interface OpHandler<R> {
  /** Compute cache-key material without running the op. May do I/O (resolve an image). */
  cacheMap(ctx: OpContext): Promise<CacheMap>;
  /**
   * Run the op on its inputs' results; one result per output of the vertex. `previous`
   * comes only with CacheMap.incremental: it looks the previous run up when called (once;
   * it reads the key history and the changed files' records, milliseconds an op that
   * decides it does not want it should not pay). Using it must give the same results as
   * not.
   */
  exec(ctx: OpContext, inputs: readonly R[], previous?: LookUpPreviousRun<R>): Promise<R[]>;
}

export interface ResultCache<R> {
  /** The results stored under `key`, or undefined on a miss. Never throws for a miss. */
  get(key: Digest): Promise<R[] | undefined>;
  put(key: Digest, results: readonly R[]): Promise<void>;
}

export interface Worker<R> {
  handler(vertex: Vertex, digest: Digest): OpHandler<R>;
  /** Content checksum of `selectors` inside `result` (for content-based cache keys). */
  contentChecksum(result: R, selectors: readonly string[], signal: AbortSignal): Promise<Digest>;
  /**
   * Which files differ between two content checksums this worker made, when it still
   * knows both; undefined otherwise. Only used to explain a cache miss.
   */
  describeContentChange?(before: Digest, after: Digest): Promise<ContentChange | undefined>;
  cache: ResultCache<R>;
}

/** Paths (relative to the source) that differ between two content checksums. */
export interface ContentChange {
  added: string[];
  removed: string[];
  modified: string[];
}

/** What one step's cache key was made of: enough to say later what changed. */
export interface KeyFacts {
  /** The op itself (the vertex without its inputs), as canonical JSON. */
  op: string;
  /** What the op put into the key itself (CacheMap.digest): for an image, its manifest. */
  own: Digest;
  /** Each input: by name, with its cache key or the checksum of the files it reads. */
  inputs: Array<{ name: string; key?: Digest; content?: Digest }>;
}

/**
 * Remembers each step's KeyFacts between solves, so a miss can be explained against the
 * last time the step was built (the store keeps them).
 */
export interface KeyHistory {
  get(identity: string): Promise<KeyFacts | undefined> | KeyFacts | undefined;
  put(identity: string, facts: KeyFacts): Promise<void> | void;
}

export interface SolveOptions {
  /** Max vertices executing at once (default: number of cores). */
  parallelism?: number;
  /** Skip cache lookups for every vertex (results are still stored). */
  noCache?: boolean;
  signal?: AbortSignal;
  onProgress?: ProgressSink;
  /**
   * Where steps' key facts are remembered, to explain misses precisely ("src/app.js
   * changed", "ARG VERSION changed"). `scope` separates builds that share line numbers
   * (the Dockerfile's path, the platform).
   */
  history?: { scope: string; store: KeyHistory };
}

export interface SolveResult<R> {
  /** The root output's result, or null when the definition's root is null (scratch). */
  result: R | null;
  /** Cache key of every vertex that was needed, by vertex digest. */
  keys: ReadonlyMap<Digest, Digest>;
  /** Vertices that executed vs came from the cache. */
  executed: readonly Digest[];
  cached: readonly Digest[];
}

export type Solve = <R>(
  definition: Definition,
  worker: Worker<R>,
  options?: SolveOptions,
) => Promise<SolveResult<R>>;

/** Options of a long-lived solver that many solves share (watch mode, concurrent builds). */
export interface SolverOptions {
  /**
   * Max vertices executing at once across all solves of this solver. Each solve still
   * applies its own `SolveOptions.parallelism` too. Default: no solver-wide limit.
   */
  parallelism?: number;
}

/**
 * A solver that may be called many times, concurrently. Solves of one solver share work:
 * a cacheable vertex with the same cache key, on the same result cache, runs once while
 * any of them waits for it.
 */
export interface Solver {
  solve: Solve;
}
