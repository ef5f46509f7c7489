/**
 * In-flight executions shared between solves. A flight is one execution of one op for one
 * cache key. Concurrent solves that need the same key on the same result cache join the
 * running flight instead of starting their own; the flight is aborted only when every
 * solve waiting for it has left (so Ctrl-C on one build never kills another's step).
 */
import type { Digest } from '../shared/digest.ts';
import { CancelledError } from '../shared/errors.ts';

/** What a waiting solve hears from a flight while it runs. */
export interface FlightListener {
  started(time: number): void;
  log(stream: 'stdout' | 'stderr', data: string): void;
  progress(id: string, current: number, total?: number): void;
}

export class Flight<R> {
  readonly #controller = new AbortController();
  readonly #listeners = new Set<FlightListener>();
  #startedAt: number | undefined;
  #settled = false;
  promise: Promise<R[]> = Promise.resolve([]);

  /** Run the op; listeners that joined before this call hear every event. */
  start(run: (flight: Flight<R>) => Promise<R[]>): void {
    this.promise = run(this);
    const markSettled = (): void => {
      this.#settled = true;
    };
    this.promise.then(markSettled, markSettled);
  }

  /** Aborted once no solve waits for this flight any more. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get startedAt(): number | undefined {
    return this.#startedAt;
  }

  /** Still worth joining: neither finished nor abandoned. */
  get joinable(): boolean {
    return !this.#settled && !this.#controller.signal.aborted;
  }

  join(listener: FlightListener): void {
    this.#listeners.add(listener);
    // A late joiner still needs to hear that the step is running.
    if (this.#startedAt !== undefined) listener.started(this.#startedAt);
  }

  /** Stop waiting. Returns true when this was the last listener and the flight was aborted. */
  leave(listener: FlightListener): boolean {
    if (!this.#listeners.delete(listener)) return false;
    if (this.#listeners.size > 0 || this.#settled) return false;
    this.#controller.abort(new CancelledError('no build is waiting for this step any more'));
    return true;
  }

  markStarted(): void {
    this.#startedAt = Date.now();
    for (const l of this.#listeners) l.started(this.#startedAt);
  }

  log(stream: 'stdout' | 'stderr', data: string): void {
    for (const l of this.#listeners) l.log(stream, data);
  }

  progress(id: string, current: number, total?: number): void {
    for (const l of this.#listeners) l.progress(id, current, total);
  }
}

/**
 * Flights by result cache, then cache key. Keyed by the cache object because a cache key
 * names the same result only within one cache (one store).
 */
export class FlightRegistry {
  readonly #byScope = new WeakMap<object, Map<Digest, Flight<unknown>>>();

  /**
   * The running flight for `key` in `scope`, or a new one started with `run`. Pass
   * `scope: null` for a private flight that no other solve may join (uncacheable ops:
   * a local context read by another build may hold other files).
   */
  acquire<R>(
    scope: object | null,
    key: Digest,
    listener: FlightListener,
    run: (flight: Flight<R>) => Promise<R[]>,
  ): { flight: Flight<R>; owner: boolean } {
    if (scope === null) return { flight: startFlight(listener, run), owner: true };
    let flights = this.#byScope.get(scope);
    if (flights === undefined) {
      flights = new Map();
      this.#byScope.set(scope, flights);
    }
    const existing = flights.get(key) as Flight<R> | undefined;
    if (existing?.joinable) {
      existing.join(listener);
      return { flight: existing, owner: false };
    }
    const flight = startFlight(listener, run);
    flights.set(key, flight as Flight<unknown>);
    const forget = (): void => {
      if (flights.get(key) === flight) flights.delete(key);
    };
    flight.promise.then(forget, forget);
    flight.signal.addEventListener('abort', forget, { once: true });
    return { flight, owner: true };
  }
}

function startFlight<R>(
  listener: FlightListener,
  run: (flight: Flight<R>) => Promise<R[]>,
): Flight<R> {
  const flight = new Flight<R>();
  flight.join(listener);
  flight.start(run);
  return flight;
}
