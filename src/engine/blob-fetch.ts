/**
 * Layer blobs fetched into the blob store, once at a time per blob in this process however
 * many ask (a lazy layer's restore, a FROM pull, an archive's missing blobs), and, when a
 * consumer wants them, handed to it as they arrive: a layer unpacks while it downloads.
 * The store's ingest checks the digest; nothing made from the bytes may be trusted unless
 * the blob was stored.
 */
import { existsSync } from 'node:fs';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Store } from '../cache/types.ts';
import type { Digest } from '../shared/digest.ts';

/** A blob to fetch and where its bytes come from. */
export interface BlobFetch {
  digest: Digest;
  size: number;
  /** The blob's bytes (a registry's response); the store's ingest checks them. */
  open(signal?: AbortSignal): Promise<Readable>;
  /** Told how many bytes have arrived (per-layer progress). */
  onBytes?: (received: number) => void;
}

const running = new WeakMap<Store, Map<Digest, Promise<void>>>();

function runningOf(store: Store): Map<Digest, Promise<void>> {
  let map = running.get(store);
  if (!map) running.set(store, (map = new Map()));
  return map;
}

/** Register a fetch of `digest`; it is forgotten once settled (a failed one may be retried). */
function track(store: Store, digest: Digest, pending: Promise<void>): void {
  const map = runningOf(store);
  map.set(digest, pending);
  const forget = () => {
    if (map.get(digest) === pending) map.delete(digest);
  };
  pending.then(forget, forget);
}

/** The fetch of `digest` running in this process, if any. */
export function runningFetch(store: Store, digest: Digest): Promise<void> | undefined {
  return running.get(store)?.get(digest);
}

/**
 * The stream, its bytes counted as they pass. An error of either end destroys both (the
 * reader sees it through its reads).
 */
function counted(stream: Readable, onBytes: ((received: number) => void) | undefined): Readable {
  if (!onBytes) return stream;
  let received = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      onBytes((received += chunk.length));
      done(null, chunk);
    },
  });
  pipeline(stream, counter).catch(() => undefined);
  return counter;
}

/**
 * Copy `source` to the store and to a consumer; the slower one sets the pace, so nothing
 * piles up. A consumer that is destroyed (it gave up) no longer holds the source back.
 * Not `pipe` to both: a destination destroyed while the source waits for its 'drain' is
 * never counted as drained, and the store's copy would then wait forever (seen with a
 * corrupt layer whose unpack failed first).
 */
function tee(source: Readable, store: PassThrough, consumer: PassThrough): void {
  let waiting = 0;
  const drained = () => {
    if (--waiting === 0) source.resume();
  };
  const alive = () => !consumer.destroyed && !consumer.writableEnded;
  source.on('data', (chunk: Buffer) => {
    if (!store.write(chunk)) {
      waiting++;
      store.once('drain', drained);
    }
    if (alive() && !consumer.write(chunk)) {
      waiting++;
      const done = () => {
        consumer.off('drain', done);
        consumer.off('close', done);
        drained();
      };
      consumer.on('drain', done);
      consumer.on('close', done);
    }
    if (waiting > 0) source.pause();
  });
  source.on('end', () => {
    store.end();
    if (alive()) consumer.end();
  });
}

/** Fetch a blob into the store unless it is there; joins a fetch of it already running. */
export async function fetchBlob(
  store: Store,
  blob: BlobFetch,
  signal?: AbortSignal,
): Promise<void> {
  let pending = runningFetch(store, blob.digest);
  if (!pending) {
    pending = (async () => {
      if (await store.blobs.has(blob.digest)) return;
      const bytes = counted(await blob.open(signal), blob.onBytes);
      await store.blobs.ingest(bytes, { digest: blob.digest, size: blob.size });
    })();
    track(store, blob.digest, pending);
  }
  await pending;
}

/**
 * Fetch a blob into the store and hand its bytes to `consume` as they arrive. Throws when
 * the blob could not be stored (a digest mismatch, a reset, an abort), after `consume`
 * settled; otherwise returns how `consume` settled. Undefined, with `consume` not called,
 * when the blob is stored already or another fetch of it is running (wait for
 * `runningFetch`, then read it from the store).
 */
export async function fetchBlobWith<T>(
  store: Store,
  blob: BlobFetch,
  consume: (bytes: Readable) => Promise<T>,
  signal?: AbortSignal,
): Promise<PromiseSettledResult<T> | undefined> {
  const { digest, size } = blob;
  if (runningFetch(store, digest) || existsSync(store.blobs.path(digest))) return undefined;
  const toStore = new PassThrough();
  const toConsumer = new PassThrough();
  // Their errors reach the ingest and the consumer through their reads; one that has
  // stopped reading must not turn a later error into an unhandled 'error' event.
  for (const branch of [toStore, toConsumer]) branch.on('error', () => undefined);
  const pending = (async () => {
    const ingesting = store.blobs.ingest(toStore, { digest, size });
    ingesting.catch(() => undefined); // awaited below; handled from the start
    let fetched: Readable | undefined;
    try {
      fetched = counted(await blob.open(signal), blob.onBytes);
    } catch (error) {
      toStore.destroy(error as Error);
      toConsumer.destroy(error as Error);
      await ingesting.catch(() => undefined);
      throw error;
    }
    const fail = (error: Error) => {
      fetched.destroy(error);
      toStore.destroy(error);
      toConsumer.destroy(error);
    };
    fetched.on('error', fail);
    tee(fetched, toStore, toConsumer);
    await ingesting.catch((error: unknown) => {
      fail(error as Error);
      throw error;
    });
  })();
  track(store, digest, pending);
  // A consumer that gave up mid-way stops being fed (tee), and the store gets the rest.
  const consumed = consume(toConsumer).finally(() => toConsumer.destroy());
  const [stored, value] = await Promise.allSettled([pending, consumed]);
  if (stored.status === 'rejected') throw stored.reason;
  return value;
}
