/**
 * One solve: computes cache keys for the reachable graph, then pulls results lazily from
 * the root, asking the cache before running anything. The first failure aborts every op
 * still running and the solve waits for them to settle before it rejects, so containers
 * are gone and mounts are removed by the time the caller sees the error.
 */
import type { LimitFunction } from 'p-limit';
import type { Definition, Digest, Input, Vertex, VertexMetadata } from '../llb/types.ts';
import { canonicalJson, digestOf, sha256 } from '../shared/digest.ts';
import { CancelledError, isTbuildError } from '../shared/errors.ts';
import type { ProgressEvent } from '../shared/progress.ts';
import { MissingOutputError, STEP_FAILED, VertexError } from './errors.ts';
import { explainChange } from './explain-change.ts';
import { explainMiss } from './explain.ts';
import type { MissFacts } from './explain.ts';
import type { Flight, FlightListener, FlightRegistry } from './flights.ts';
import { findReachable } from './graph.ts';
import { memo, raceAbort } from './promises.ts';
import type {
  CacheMap,
  ContentChange,
  KeyFacts,
  LookUpPreviousRun,
  PreviousRun,
  OpContext,
  OpHandler,
  SolveOptions,
  SolveResult,
  Worker,
} from './types.ts';

/** What a solve borrows from its solver. */
export interface SessionShared {
  flights: FlightRegistry;
  /** Per-solve limit on executing ops. */
  limit: LimitFunction;
  /** Solver-wide limit, when the solver has one. */
  sharedLimit: LimitFunction | undefined;
}

export class SolveSession<R> {
  readonly #def: Definition;
  readonly #worker: Worker<R>;
  readonly #options: SolveOptions;
  readonly #shared: SessionShared;
  readonly #controller = new AbortController();
  readonly #keys = new Map<Digest, Promise<Digest>>();
  readonly #cacheMaps = new Map<Digest, CacheMap>();
  /** What each key was made of, to remember (options.history) and explain misses with. */
  readonly #facts = new Map<Digest, KeyFacts>();
  /** The inputs' part of each key, to make the key an op had with other content. */
  readonly #deps = new Map<Digest, KeyDep[]>();
  readonly #results = new Map<Digest, Promise<R[]>>();
  readonly #handlers = new Map<Digest, OpHandler<R>>();
  /** Session-owned op calls still running; awaited before a failed solve rejects. */
  readonly #running = new Set<Promise<unknown>>();
  /** Flights this solve waits on, with the listener it joined with. */
  readonly #joined = new Map<Flight<R>, FlightListener>();
  /** Started and not yet finished, to report as cancelled when the solve aborts. */
  readonly #active = new Set<Digest>();
  readonly #executed: Digest[] = [];
  readonly #cached: Digest[] = [];
  /** Vertices reported as cached (looked up, or below a hit), each reported once. */
  readonly #announced = new Set<Digest>();
  #firstError: unknown;

  constructor(def: Definition, worker: Worker<R>, options: SolveOptions, shared: SessionShared) {
    this.#def = def;
    this.#worker = worker;
    this.#options = options;
    this.#shared = shared;
  }

  get #signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Solve the definition's root. Rejects with the first failure or a CancelledError. */
  async run(): Promise<SolveResult<R>> {
    const external = this.#options.signal;
    if (external?.aborted) throw new CancelledError('build cancelled before it started');
    const onExternalAbort = (): void => this.#controller.abort(new CancelledError());
    external?.addEventListener('abort', onExternalAbort, { once: true });
    this.#signal.addEventListener('abort', () => this.#leaveAllFlights(), { once: true });
    try {
      const reachable = findReachable(this.#def);
      const root = this.#def.root;
      const result = root === null ? null : pickOutput(await this.#getResult(root.digest), root);
      const keys = new Map<Digest, Digest>();
      for (const digest of reachable) {
        const key = this.#keys.get(digest);
        if (key !== undefined) keys.set(digest, await key);
      }
      return { result, keys, executed: [...this.#executed], cached: [...this.#cached] };
    } catch (error) {
      if (!this.#signal.aborted) this.#controller.abort(error);
      await this.#settle();
      if (this.#firstError !== undefined) throw this.#firstError;
      if (external?.aborted) throw new CancelledError('build cancelled');
      throw error;
    } finally {
      external?.removeEventListener('abort', onExternalAbort);
    }
  }

  // ── phase 1: cache keys ─────────────────────────────────────────────────────────

  #getKey(digest: Digest): Promise<Digest> {
    return memo(this.#keys, digest, () => this.#computeKey(digest));
  }

  async #computeKey(digest: Digest): Promise<Digest> {
    const vertex = this.#vertex(digest);
    // Start the inputs' keys while this op computes its own part (an image resolve).
    const inputKeys = vertex.inputs.map((input) => this.#getKey(input.digest));
    const cacheMap = await this.#track(digest, () =>
      this.#handler(digest).cacheMap(this.#contextFor(digest, this.#signal)),
    );
    this.#cacheMaps.set(digest, cacheMap);
    const deps = await Promise.all(
      vertex.inputs.map(async (input, i) => {
        const selectors = cacheMap.deps?.[i]?.contentSelectors;
        if (selectors === undefined) return { key: await inputKeys[i]!, output: input.output };
        const result = pickOutput(await this.#getResult(input.digest), input);
        const checksum = await this.#track(digest, () =>
          this.#worker.contentChecksum(result, selectors, this.#signal),
        );
        return { content: checksum };
      }),
    );
    this.#deps.set(digest, deps);
    this.#facts.set(digest, {
      op: canonicalJson(vertex.op),
      own: cacheMap.digest,
      inputs: vertex.inputs.map((input, i) => ({ name: this.#name(input.digest), ...deps[i]! })),
    });
    return digestOf({ op: cacheMap.digest, deps });
  }

  // ── phase 2: results ────────────────────────────────────────────────────────────

  #getResult(digest: Digest): Promise<R[]> {
    return memo(this.#results, digest, () => this.#computeResult(digest));
  }

  async #computeResult(digest: Digest): Promise<R[]> {
    const key = await this.#getKey(digest);
    const cacheMap = this.#cacheMaps.get(digest)!;
    const skipped = this.#skipReason(digest, cacheMap);
    if (skipped === undefined) {
      const hit = await this.#track(digest, () => this.#worker.cache.get(key));
      if (hit !== undefined) {
        this.#cached.push(digest);
        this.#announceCachedInputs(digest);
        this.#announceCached(digest);
        this.#remember(digest);
        return hit;
      }
    }
    const results = await this.#execute(digest, key, cacheMap, skipped);
    this.#remember(digest);
    return results;
  }

  /**
   * A hit's inputs are never loaded, but BuildKit still lists them as cached (a no-op
   * rebuild shows every step, FROM included). Announce, inputs first, the ancestors whose
   * results nothing asked for: those that were asked for report themselves.
   */
  #announceCachedInputs(digest: Digest): void {
    for (const input of this.#vertex(digest).inputs) {
      if (this.#results.has(input.digest) || this.#announced.has(input.digest)) continue;
      this.#announceCachedInputs(input.digest);
      this.#announceCached(input.digest);
    }
  }

  #announceCached(digest: Digest): void {
    if (this.#announced.has(digest)) return;
    this.#announced.add(digest);
    this.#emit({ type: 'vertex.cached', digest, ...this.#names(digest) });
  }

  #skipReason(digest: Digest, cacheMap: CacheMap): MissFacts['skipped'] {
    if (cacheMap.uncacheable) return 'uncacheable';
    if (this.#options.noCache) return 'no-cache';
    if (this.#meta(digest)?.ignoreCache) return 'ignore-cache';
    return undefined;
  }

  /** Run the op, or join a concurrent solve already running it for the same key. */
  async #execute(
    digest: Digest,
    key: Digest,
    cacheMap: CacheMap,
    skipped: MissFacts['skipped'],
  ): Promise<R[]> {
    const vertex = this.#vertex(digest);
    // Inputs are awaited outside the limit (holding a slot while waiting would deadlock),
    // and by every solve that needs this step, joiners included: each then keeps the
    // inputs' flights alive, so cancelling the build that started them loses no work.
    const inputs = await Promise.all(
      vertex.inputs.map(async (input) => pickOutput(await this.#getResult(input.digest), input)),
    );
    // Explained beside the op (the history lookup may read files); announced before it ends.
    const explained = this.#emitMiss(digest, this.#missFacts(vertex, key, cacheMap, skipped));
    this.#throwIfAborted();
    let lookup: Promise<PreviousRun<R> | undefined> | undefined;
    const previous =
      cacheMap.incremental && skipped === undefined
        ? () => (lookup ??= this.#previousRun(digest, cacheMap))
        : undefined;
    const listener = this.#listenerFor(digest);
    const scope = cacheMap.uncacheable ? null : this.#worker.cache;
    const { flight } = this.#shared.flights.acquire<R>(scope, key, listener, (f) =>
      this.#runOp(digest, key, cacheMap, inputs, f, previous),
    );
    this.#joined.set(flight, listener);
    let results: R[];
    try {
      results = await raceAbort(flight.promise, this.#signal);
    } catch (error) {
      throw this.#onFailure(digest, error);
    } finally {
      this.#joined.delete(flight);
    }
    this.#active.delete(digest);
    this.#executed.push(digest);
    await explained;
    const durationMs = Date.now() - (flight.startedAt ?? Date.now());
    this.#emit({ type: 'vertex.completed', digest, name: this.#name(digest), durationMs });
    return results;
  }

  /** A flight's body: the op under the limits, then storing its results. */
  #runOp(
    digest: Digest,
    key: Digest,
    cacheMap: CacheMap,
    inputs: readonly R[],
    flight: Flight<R>,
    previous: LookUpPreviousRun<R> | undefined,
  ): Promise<R[]> {
    const run = async (): Promise<R[]> => {
      // Queued behind the limit while every waiting build gave up: do not start.
      flight.signal.throwIfAborted();
      flight.markStarted();
      const ctx = this.#contextFor(digest, flight.signal, flight);
      const results = await this.#handler(digest).exec(ctx, inputs, previous);
      if (!cacheMap.uncacheable) await this.#worker.cache.put(key, results);
      return results;
    };
    const shared = this.#shared.sharedLimit;
    return this.#shared.limit(() => (shared ? shared(run) : run()));
  }

  #missFacts(
    vertex: Vertex,
    key: Digest,
    cacheMap: CacheMap,
    skipped: MissFacts['skipped'],
  ): MissFacts {
    const changedInputs: string[] = [];
    const contentInputs: MissFacts['contentInputs'][number][] = [];
    vertex.inputs.forEach((input, i) => {
      const selectors = cacheMap.deps?.[i]?.contentSelectors;
      if (selectors !== undefined) {
        contentInputs.push({ name: this.#name(input.digest), selectors });
      } else if (
        this.#executed.includes(input.digest) &&
        !this.#cacheMaps.get(input.digest)?.uncacheable
      ) {
        changedInputs.push(this.#name(input.digest));
      }
    });
    return { key, skipped, changedInputs, contentInputs };
  }

  async #emitMiss(digest: Digest, facts: MissFacts): Promise<void> {
    if (facts.skipped === 'uncacheable') {
      // A step that is never cached (a source) does not miss; it is worth a word only when
      // what it stands for changed (a base image that now resolves to another digest).
      const changed = await this.#explainFromHistory(digest, { onlyOwnChange: true });
      if (changed !== undefined)
        this.#emit({
          type: 'vertex.cache-miss',
          digest,
          name: this.#name(digest),
          reason: changed,
        });
      return;
    }
    const reason =
      (facts.skipped ? undefined : await this.#explainFromHistory(digest)) ?? explainMiss(facts);
    this.#emit({ type: 'vertex.cache-miss', digest, name: this.#name(digest), reason });
  }

  // ── key history ────────────────────────────────────────────────────────────────

  /**
   * Where a step's facts are remembered, most specific first: under its op (the same
   * instruction anywhere in the file), its name without the step counter (the same text
   * with other ARG/ENV values), and its place in the Dockerfile (an edited instruction).
   */
  #identities(digest: Digest): string[] {
    const scope = this.#options.history!.scope;
    const facts = this.#facts.get(digest)!;
    const meta = this.#meta(digest);
    const range = meta?.location?.range;
    const opType = (this.#vertex(digest).op as { type: string }).type;
    const name = this.#name(digest).replace(/^\[(?:(\S+) )?\d+\/\d+\] /, '[$1] ');
    return [
      `${scope}\0op\0${sha256(facts.op)}`,
      `${scope}\0name\0${name}`,
      ...(range === undefined
        ? []
        : [`${scope}\0at\0${meta?.location?.file ?? ''}:${range.start}-${range.end}\0${opType}`]),
    ];
  }

  async #explainFromHistory(
    digest: Digest,
    { onlyOwnChange = false } = {},
  ): Promise<string | undefined> {
    const history = this.#options.history;
    const current = this.#facts.get(digest);
    if (history === undefined || current === undefined) return undefined;
    try {
      let previous: KeyFacts | undefined;
      for (const identity of this.#identities(digest)) {
        previous = await history.store.get(identity);
        if (previous !== undefined) break;
      }
      if (previous === undefined) return undefined;
      if (onlyOwnChange && previous.op === current.op && previous.own === current.own)
        return undefined;
      const describe = this.#worker.describeContentChange?.bind(this.#worker);
      return await explainChange(previous, current, describe);
    } catch {
      return undefined; // an explanation is a courtesy: never fail the build for it
    }
  }

  /** Remember the facts of a step that now has a result (from the cache or just built). */
  #remember(digest: Digest): void {
    const history = this.#options.history;
    const facts = this.#facts.get(digest);
    if (history === undefined || facts === undefined) return;
    const identities = this.#identities(digest);
    void (async () => {
      for (const identity of identities) await history.store.put(identity, facts);
    })().catch(() => undefined);
  }

  /**
   * The op's result from its last run, when the key history says that run differed from
   * this one only in the content of content-keyed inputs, its result is still cached, and
   * the worker can still name the files that changed. Undefined otherwise: an offer the
   * op may use, never a reason to fail.
   */
  async #previousRun(digest: Digest, cacheMap: CacheMap): Promise<PreviousRun<R> | undefined> {
    const history = this.#options.history;
    const current = this.#facts.get(digest);
    const deps = this.#deps.get(digest);
    const describe = this.#worker.describeContentChange?.bind(this.#worker);
    if (!history || !current || !deps || !describe) return undefined;
    try {
      for (const identity of this.#identities(digest)) {
        const previous = await history.store.get(identity);
        const then = previous && sameExceptContent(previous, current);
        if (!then) continue;
        const key = digestOf({
          op: cacheMap.digest,
          deps: deps.map((dep, i) => ('content' in dep ? { content: then[i]! } : dep)),
        });
        const results = await this.#worker.cache.get(key);
        if (results === undefined) return undefined;
        const changes: Array<ContentChange | undefined> = [];
        for (const [i, input] of current.inputs.entries()) {
          if (input.content === undefined) changes.push(undefined);
          else if (input.content === then[i])
            changes.push({ added: [], removed: [], modified: [] });
          else {
            const change = await describe(then[i]!, input.content);
            if (change === undefined) return undefined;
            changes.push(change);
          }
        }
        return { results, changes };
      }
    } catch {
      // An offer only: the op runs in full.
    }
    return undefined;
  }

  // ── failure and cancellation ────────────────────────────────────────────────────

  /** Run a session-owned op call, tracked so a failed solve can wait for it. */
  #track<T>(digest: Digest, call: () => Promise<T>): Promise<T> {
    if (this.#signal.aborted) return Promise.reject(new CancelledError());
    const promise = (async () => call())();
    this.#waitOnFailure(promise);
    return promise.catch((error: unknown) => {
      throw this.#onFailure(digest, error);
    });
  }

  /**
   * Turn an op's failure into the error the solve reports. The first failure is wrapped
   * with the step's name and location, announced, and aborts everything else; failures
   * after that are consequences of the abort.
   */
  #onFailure(digest: Digest, error: unknown): unknown {
    if (this.#signal.aborted) return error === this.#firstError ? error : new CancelledError();
    // A VertexError from a joined flight already names the step that failed in that build.
    const failed =
      error instanceof VertexError
        ? error
        : new VertexError(digest, this.#name(digest), error, this.#meta(digest)?.location);
    this.#firstError = failed;
    this.#active.delete(failed.vertex);
    const cause = failed.cause;
    this.#emit({
      type: 'vertex.error',
      digest: failed.vertex,
      name: failed.description,
      error: {
        code: isTbuildError(cause) ? cause.code : STEP_FAILED,
        message: cause instanceof Error ? cause.message : String(cause),
      },
      location: failed.location,
    });
    this.#controller.abort(failed);
    return failed;
  }

  /** A failed solve waits for `promise` to settle before it rejects. */
  #waitOnFailure(promise: Promise<unknown>): void {
    this.#running.add(promise);
    const untrack = (): void => {
      this.#running.delete(promise);
    };
    promise.then(untrack, untrack);
  }

  #throwIfAborted(): void {
    if (this.#signal.aborted) throw new CancelledError();
  }

  #leaveAllFlights(): void {
    for (const [flight, listener] of this.#joined) {
      // Whoever abandons a flight last waits for it, so its container is really gone.
      if (flight.leave(listener)) this.#waitOnFailure(flight.promise);
    }
    this.#joined.clear();
  }

  /** Wait for every op this solve is responsible for, then mark the rest cancelled. */
  async #settle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
    for (const digest of this.#active) {
      this.#emit({
        type: 'vertex.error',
        digest,
        name: this.#name(digest),
        error: { code: new CancelledError().code, message: 'cancelled' },
        location: this.#meta(digest)?.location,
      });
    }
    this.#active.clear();
  }

  // ── helpers ─────────────────────────────────────────────────────────────────────

  #listenerFor(digest: Digest): FlightListener {
    return {
      started: () => {
        this.#active.add(digest);
        this.#emit({ type: 'vertex.started', digest, ...this.#names(digest) });
      },
      log: (stream, data) => this.#emit({ type: 'vertex.log', digest, stream, data }),
      progress: (id, current, total) =>
        this.#emit({ type: 'vertex.progress', digest, id, current, total }),
    };
  }

  /** Op context; a flight's ops talk to every solve waiting on the flight. */
  #contextFor(digest: Digest, signal: AbortSignal, flight?: Flight<R>): OpContext {
    const sink: Pick<FlightListener, 'log' | 'progress'> = flight ?? this.#listenerFor(digest);
    return {
      digest,
      signal,
      log: (stream, data) => sink.log(stream, data),
      progress: (id, current, total) => sink.progress(id, current, total),
    };
  }

  #handler(digest: Digest): OpHandler<R> {
    let handler = this.#handlers.get(digest);
    if (handler === undefined) {
      handler = this.#worker.handler(this.#vertex(digest), digest);
      this.#handlers.set(digest, handler);
    }
    return handler;
  }

  #vertex(digest: Digest): Vertex {
    // findReachable has checked every reachable digest exists.
    return this.#def.vertices[digest]!;
  }

  #meta(digest: Digest): VertexMetadata | undefined {
    return this.#def.metadata[digest];
  }

  #name(digest: Digest): string {
    return this.#meta(digest)?.description ?? `vertex ${digest.slice(7, 19)}`;
  }

  #names(digest: Digest): { name: string; location: VertexMetadata['location'] } {
    return { name: this.#name(digest), location: this.#meta(digest)?.location };
  }

  #emit(event: DistributiveOmit<ProgressEvent, 'time'>): void {
    this.#options.onProgress?.({ ...event, time: Date.now() } as ProgressEvent);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function pickOutput<R>(results: readonly R[], input: Input): R {
  const result = results[input.output];
  if (result === undefined)
    throw new MissingOutputError(input.digest, input.output, results.length);
  return result;
}

/** One input's part of a cache key: its own key (and output), or its content checksum. */
type KeyDep = { key: Digest; output: number } | { content: Digest };

/**
 * The content checksums of `previous`'s inputs when it is `current` with only the content
 * of content-keyed inputs changed (at least one); undefined otherwise.
 */
function sameExceptContent(
  previous: KeyFacts,
  current: KeyFacts,
): ReadonlyArray<Digest | undefined> | undefined {
  if (previous.op !== current.op || previous.own !== current.own) return undefined;
  if (previous.inputs.length !== current.inputs.length) return undefined;
  let differs = false;
  for (const [i, now] of current.inputs.entries()) {
    const then = previous.inputs[i]!;
    if (now.content !== undefined) {
      if (then.content === undefined) return undefined;
      differs ||= then.content !== now.content;
    } else if (then.key !== now.key || then.content !== undefined) return undefined;
  }
  return differs ? previous.inputs.map((input) => input.content) : undefined;
}
