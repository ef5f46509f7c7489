/**
 * A pulled base image's layers into snapshots (issue 12). Up to PULL_CONCURRENCY blobs
 * download side by side, as Docker's do; each is streamed into the blob store (digest
 * checked) and, at the same time, into an unpack in a private temp directory
 * (staged-unpack.ts; in a worker thread when large). The snapshots are then made in chain
 * order, parent first, each once its blob is stored and its diff id checked: the staged
 * directory is renamed into the new snapshot and committed.
 *
 * A failure (a digest or diff id mismatch, a reset, an abort, a full disk) stops the other
 * downloads and leaves no temp directory, no uncommitted snapshot and no unchecked blob.
 * Layers committed before it stay, complete and checked, for the next pull to reuse.
 */
import type { Readable } from 'node:stream';
import pLimit from 'p-limit';
import type { SnapshotId, Store } from '../cache/types.ts';
import type { UnpackResult } from '../exporter/layer-unpack.ts';
import type { Digest } from '../shared/digest.ts';
import { DiskFullError, isDiskFull, TbuildError } from '../shared/errors.ts';
import type { Descriptor } from '../shared/oci.ts';
import { fetchBlob, fetchBlobWith, runningFetch, type BlobFetch } from './blob-fetch.ts';
import { compressionOf } from './lazy-layers.ts';
import { discardStaged, placeStaged, unpackStaged, type StagedLayer } from './staged-unpack.ts';

/** Layers downloaded at once: Docker's default (`max-concurrent-downloads`). */
export const PULL_CONCURRENCY = 3;

/**
 * A blob this size or larger is unpacked in a worker thread. Higher than a restore's
 * (staged-unpack.ts): a pull starts up to three at once, and for five 4.8 MB layers of a
 * few files each the workers' start-up made the pull 2.1 s instead of 1.3 s (ADR 20).
 */
export const PULL_WORKER_MIN_BLOB = 16 * 1024 * 1024;

export interface PullLayersOptions {
  store: Store;
  /** The image, for messages and snapshot descriptions. */
  what: string;
  /** The manifest's layers and the config's diff ids, in chain order (base first). */
  layers: readonly { descriptor: Descriptor; diffId: Digest }[];
  /** A layer blob's bytes from the registry. */
  open(descriptor: Descriptor, signal: AbortSignal): Promise<Readable>;
  signal: AbortSignal;
  progress: (id: string, current: number, total?: number) => void;
  /** Told what an unpacked layer left out (device nodes in a rootless build, ADR 17). */
  onWarning?: ((message: string) => void) | undefined;
}

/** Make sure the layers are snapshots; the top one, or null for an image without layers. */
export async function pullLayers(options: PullLayersOptions): Promise<SnapshotId | null> {
  const { store, what, layers } = options;
  // The layers unpacked already are a prefix of the chain: a snapshot made below has no
  // children yet.
  let parent: SnapshotId | null = null;
  const reused: SnapshotId[] = [];
  for (const layer of layers) {
    const existing = store.snapshots.findByDiffId(parent, layer.diffId);
    if (!existing) break;
    reused.push(existing.id);
    parent = existing.id;
  }
  const stop = new AbortController();
  const signal = AbortSignal.any([options.signal, stop.signal]);
  let failure: { error: unknown } | undefined;
  const noteFailure = (error: unknown): void => {
    if (failure) return;
    failure = { error };
    stop.abort(error);
  };
  const limit = pLimit(PULL_CONCURRENCY);
  const blobOf = ({ descriptor }: (typeof layers)[number]): BlobFetch => ({
    digest: descriptor.digest,
    size: descriptor.size,
    open: (s) => options.open(descriptor, s ?? signal),
    onBytes: (received) => options.progress(descriptor.digest, received, descriptor.size),
  });
  const task = <T>(work: () => Promise<T>): Promise<T> => {
    const done = limit(() => {
      signal.throwIfAborted();
      return work();
    }).catch((error: unknown) => {
      noteFailure(error);
      throw error;
    });
    done.catch(() => undefined); // awaited in order below, or settled on failure
    return done;
  };

  // A reused layer's blob is fetched again only when it went missing (`tbuild check
  // --repair` removed a corrupt one): the image needs it to be saved or pushed as the
  // registry has it. Its files can then come from it, should its directory be missing
  // (a lazy layer of an imported cache, ADR 11).
  const refetches = reused.map((id, i) =>
    task(async () => {
      const layer = layers[i]!;
      if (await store.blobs.has(layer.descriptor.digest)) return;
      await fetchBlob(store, blobOf(layer), signal);
      store.snapshots.addLayerBlob(id, layerBlob(layer.descriptor));
    }),
  );
  const staged = new Set<StagedLayer>();
  const fresh = layers.slice(reused.length);
  const unpacks = fresh.map((layer) =>
    task(async () => {
      const result = await stageLayer(store, blobOf(layer), what, signal);
      try {
        checkUnpacked(
          result.result,
          layer.descriptor.digest,
          layer.diffId,
          what,
          options.onWarning,
        );
      } catch (error) {
        await discardStaged(result);
        throw error;
      }
      staged.add(result);
      return result;
    }),
  );
  try {
    for (const [i, layer] of fresh.entries()) {
      const result = await unpacks[i]!;
      staged.delete(result);
      parent = await commitStaged(store, parent, layer, result, what);
    }
    await Promise.all(refetches);
    return parent;
  } catch (error) {
    noteFailure(error);
    await Promise.allSettled([...refetches, ...unpacks]);
    await Promise.all([...staged].map(discardStaged));
    const first = failure?.error ?? error;
    if (isDiskFull(first) && !(first instanceof DiskFullError))
      throw new DiskFullError(store.root, `pulling the layers of ${what}`, { cause: first });
    throw first;
  }
}

/**
 * One layer's blob into the store and, at the same time, unpacked into a staged directory;
 * from the store when it is there already or another fetch of it is running (the same blob
 * twice in one image, or another build of this process). An unpack that fails while the
 * blob downloads is reported only once the download has settled: bad bytes (a digest
 * mismatch, which the store reports) usually break the unpack first.
 */
async function stageLayer(
  store: Store,
  blob: BlobFetch,
  what: string,
  signal: AbortSignal,
): Promise<StagedLayer> {
  const unpack = async (bytes: Readable): Promise<StagedLayer> => {
    try {
      return await unpackStaged(store, bytes, blob.size, {
        prefix: 'pull',
        workerMin: PULL_WORKER_MIN_BLOB,
      });
    } catch (error) {
      if (!isDiskFull(error) || error instanceof DiskFullError) throw error;
      throw new DiskFullError(store.root, `unpacking layer ${blob.digest} of ${what}`, {
        cause: error,
      });
    }
  };
  for (;;) {
    let staged: StagedLayer | undefined;
    let consumed: PromiseSettledResult<StagedLayer> | undefined;
    try {
      consumed = await fetchBlobWith(
        store,
        blob,
        async (bytes) => (staged = await unpack(bytes)),
        signal,
      );
    } catch (error) {
      await discardStaged(staged);
      throw error;
    }
    if (consumed?.status === 'fulfilled') return consumed.value;
    if (consumed?.status === 'rejected') throw consumed.reason;
    await settledOrAborted(runningFetch(store, blob.digest), signal);
    signal.throwIfAborted();
    if (await store.blobs.has(blob.digest)) return unpack(store.blobs.stream(blob.digest));
    // The other fetch failed: try it here.
  }
}

/** Wait for another's fetch to settle, however it does, or for `signal` to abort. */
function settledOrAborted(pending: Promise<void> | undefined, signal: AbortSignal): Promise<void> {
  if (!pending || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done);
    pending.then(done, done);
  });
}

/**
 * A new committed snapshot on `parent` from a staged layer whose diff id was checked; the
 * staged directory is placed or removed. A layer another process committed meanwhile is
 * used instead.
 */
async function commitStaged(
  store: Store,
  parent: SnapshotId | null,
  layer: { descriptor: Descriptor; diffId: Digest },
  staged: StagedLayer,
  what: string,
): Promise<SnapshotId> {
  const { descriptor, diffId } = layer;
  const existing = store.snapshots.findByDiffId(parent, diffId);
  if (existing) {
    await discardStaged(staged);
    store.snapshots.addLayerBlob(existing.id, layerBlob(descriptor));
    return existing.id;
  }
  let snapshot;
  try {
    snapshot = await store.snapshots.create(parent, `layer ${diffId.slice(7, 19)} of ${what}`);
  } catch (error) {
    await discardStaged(staged);
    throw error;
  }
  try {
    await placeStaged(staged, snapshot.dir);
    const committed = await store.snapshots.commit(snapshot.id, { diffId });
    store.snapshots.addLayerBlob(committed.id, layerBlob(descriptor));
    return committed.id;
  } catch (error) {
    return dropFailedSnapshot(
      store,
      snapshot.id,
      error,
      `unpacking layer ${descriptor.digest} of ${what}`,
    );
  }
}

function layerBlob(descriptor: Descriptor) {
  return {
    digest: descriptor.digest,
    size: descriptor.size,
    mediaType: descriptor.mediaType,
    compression: compressionOf(descriptor.mediaType),
  };
}

/**
 * A layer's snapshot could not be made: remove it (first: on a full disk that frees the
 * space) and throw `error`, a full disk as DiskFullError naming what was being done.
 */
export async function dropFailedSnapshot(
  store: Store,
  id: SnapshotId,
  error: unknown,
  doing: string,
): Promise<never> {
  const removed = await store.snapshots.remove(id).then(
    () => undefined,
    (removeError: unknown) => removeError,
  );
  if (isDiskFull(error) && !(error instanceof DiskFullError))
    throw new DiskFullError(store.root, doing, { cause: error });
  if (removed !== undefined && !isDiskFull(removed)) throw removed;
  throw error;
}

/**
 * Throw TBUILD_DIFFID_MISMATCH unless the unpacked layer is the one the config lists;
 * warn about the device nodes a rootless unpack left out.
 */
export function checkUnpacked(
  result: UnpackResult,
  blob: Digest,
  diffId: Digest,
  what: string,
  onWarning: ((message: string) => void) | undefined,
): void {
  if (result.diffId !== diffId) {
    throw new TbuildError(
      'TBUILD_DIFFID_MISMATCH',
      `${what}: layer ${blob} unpacks to ${result.diffId}, but the config says ${diffId}`,
      { hint: 'The image is corrupt; pull it again or rebuild it.' },
    );
  }
  if (result.skippedDevices.length > 0) {
    const names = result.skippedDevices.slice(0, 3).map((p) => `/${p}`);
    const more =
      result.skippedDevices.length > 3 ? ` and ${result.skippedDevices.length - 3} more` : '';
    onWarning?.(
      `${what}: device nodes ${names.join(', ')}${more} left out of the unpacked layer: a rootless build cannot create them (the image's layer still has them)`,
    );
  }
}
