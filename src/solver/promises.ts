/** Promise helpers for the solver's bookkeeping. */
import type { Digest } from '../shared/digest.ts';
import { CancelledError } from '../shared/errors.ts';

/**
 * Memoise a promise by digest. Its rejection is marked handled here because the solve
 * reports failures through its first-error path, not through every waiter.
 */
export function memo<T>(
  map: Map<Digest, Promise<T>>,
  digest: Digest,
  make: () => Promise<T>,
): Promise<T> {
  let promise = map.get(digest);
  if (promise === undefined) {
    promise = make();
    map.set(digest, promise);
    promise.then(undefined, () => undefined);
  }
  return promise;
}

/** Resolve with `promise`, or reject as soon as `signal` aborts. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new CancelledError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new CancelledError());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
