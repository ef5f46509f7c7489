/**
 * Lazy layers (issue 10, ADR 11): a layer of an imported cache becomes a committed
 * snapshot with its diff id but without its directory, and without its blob. It is
 * fetched (digest checked by the blob store) and unpacked only when something needs its
 * files: a mount (store-check.ts `snapshotChain`), an output that writes layer bytes, or
 * a push that cannot mount the blob from the registry it came from. An image config
 * needs only the diff id, which the cache carries.
 *
 * Where a lazy layer's blob comes from is known to this process only (the cache's
 * client and credentials): a lazy snapshot with neither directory, blob nor source is
 * not restorable, and the result cache treats records on it as misses.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type { SnapshotId, SnapshotInfo, Store } from '../cache/types.ts';
import { fetchBlob, fetchBlobWith, type BlobFetch } from './blob-fetch.ts';
import type { Digest } from '../shared/digest.ts';
import type { Descriptor } from '../shared/oci.ts';

/** Where the blob of a lazy layer comes from. */
export interface LazyLayerSource {
  /** The (compressed) layer blob as the cache lists it. */
  descriptor: Descriptor;
  /** Where it comes from, for messages: `registry localhost:5000/app:cache`. */
  what: string;
  /** A registry repository (`host/repo:tag`) holding the blob: a push there mounts it. */
  registryRepo?: string;
  /** The blob's bytes; the store's ingest checks their digest. */
  fetch(signal?: AbortSignal): Promise<Readable>;
}

interface LazyState {
  bySnapshot: Map<SnapshotId, LazyLayerSource>;
  byDigest: Map<Digest, LazyLayerSource>;
}

const states = new WeakMap<Store, LazyState>();

function stateOf(store: Store): LazyState {
  let state = states.get(store);
  if (!state) {
    state = { bySnapshot: new Map(), byDigest: new Map() };
    states.set(store, state);
  }
  return state;
}

/** Remember where the blob of snapshot `id` (committed lazily, or restorable) comes from. */
export function registerLazyLayer(store: Store, id: SnapshotId, source: LazyLayerSource): void {
  const state = stateOf(store);
  state.bySnapshot.set(id, source);
  if (!state.byDigest.has(source.descriptor.digest))
    state.byDigest.set(source.descriptor.digest, source);
}

/** Forget a source that gave bad bytes: what depends on it is no longer restorable. */
export function forgetLazyLayer(store: Store, id: SnapshotId): void {
  const state = stateOf(store);
  const source = state.bySnapshot.get(id);
  state.bySnapshot.delete(id);
  if (source && state.byDigest.get(source.descriptor.digest) === source)
    state.byDigest.delete(source.descriptor.digest);
}

export function lazySourceOf(store: Store, id: SnapshotId): LazyLayerSource | undefined {
  return states.get(store)?.bySnapshot.get(id);
}

/** The registry repository a blob was imported from, for a cross-repo mount on push. */
export function mountSourceOf(store: Store, digest: Digest): string | undefined {
  return states.get(store)?.byDigest.get(digest)?.registryRepo;
}

/**
 * A committed snapshot for one layer of an imported cache, on `parent`, with nothing
 * fetched or unpacked: `source` gives its blob when it is first needed.
 */
export async function createLazySnapshot(
  store: Store,
  parent: SnapshotId | null,
  layer: { diffId: Digest; createdAt?: number; description: string },
  source: LazyLayerSource,
): Promise<SnapshotId> {
  const snapshot = await store.snapshots.create(parent, layer.description);
  try {
    await store.snapshots.commit(snapshot.id, {
      diffId: layer.diffId,
      lazy: true,
      ...(layer.createdAt !== undefined ? { createdAt: layer.createdAt } : {}),
    });
  } catch (error) {
    await store.snapshots.remove(snapshot.id).catch(() => undefined);
    throw error;
  }
  // Says "never unpacked here" to `tbuild check`, which reports a deleted directory.
  await writeFile(lazyMarker(snapshot), '').catch(() => undefined);
  registerLazyLayer(store, snapshot.id, source);
  return snapshot.id;
}

const lazyMarker = (info: SnapshotInfo) => join(dirname(info.dir), 'lazy');

/** Whether a snapshot was made as a lazy layer (its directory may never have existed). */
export function isLazyLayer(info: SnapshotInfo): boolean {
  return existsSync(lazyMarker(info));
}

/** Whether a snapshot's directory is unpacked. */
export function isUnpacked(info: SnapshotInfo): boolean {
  return existsSync(info.dir);
}

/** Whether one of the snapshot's recorded layer blobs is in the blob store. */
export function hasStoredBlob(store: Store, id: SnapshotId): boolean {
  return store.snapshots.layerBlobs(id).some((b) => existsSync(store.blobs.path(b.digest)));
}

/**
 * Whether the snapshot's files can be had: unpacked, or unpackable from a stored blob or
 * from a lazy layer's source known to this process.
 */
export function isRestorable(store: Store, info: SnapshotInfo): boolean {
  return (
    isUnpacked(info) || hasStoredBlob(store, info.id) || lazySourceOf(store, info.id) !== undefined
  );
}

/** A lazy layer's blob as blob-fetch.ts fetches it. */
const toFetch = (source: LazyLayerSource): BlobFetch => ({
  digest: source.descriptor.digest,
  size: source.descriptor.size,
  open: (signal) => source.fetch(signal),
});

/**
 * Fetch a lazy snapshot's blob into the blob store (once per blob, however many ask) and
 * record it as the snapshot's layer blob. False when the snapshot has no lazy source.
 */
export async function fetchLazyBlob(
  store: Store,
  id: SnapshotId,
  signal?: AbortSignal,
): Promise<boolean> {
  const source = lazySourceOf(store, id);
  if (!source) return false;
  await fetchBlob(store, toFetch(source), signal);
  addSourceBlob(store, id, source);
  return true;
}

function addSourceBlob(store: Store, id: SnapshotId, source: LazyLayerSource): void {
  const { digest, size, mediaType } = source.descriptor;
  store.snapshots.addLayerBlob(id, {
    digest,
    size,
    mediaType,
    compression: compressionOf(mediaType),
  });
}

/**
 * fetchLazyBlob that also hands the bytes to `consume` as they arrive, so a restore
 * unpacks a layer while it downloads instead of after. The blob is stored (digest
 * checked) as fetchLazyBlob stores it; a consumer must not trust what it made from the
 * bytes unless this resolves. Undefined, with `consume` not called, when the blob is
 * stored already or another fetch of it is running (read it from the store once
 * fetchLazyBlob settles), or the snapshot has no lazy source.
 */
export async function fetchLazyBlobWith<T>(
  store: Store,
  id: SnapshotId,
  consume: (bytes: Readable) => Promise<T>,
  signal?: AbortSignal,
): Promise<{ value: T } | undefined> {
  const source = lazySourceOf(store, id);
  if (!source) return undefined;
  const consumed = await fetchBlobWith(store, toFetch(source), consume, signal);
  if (!consumed) return undefined;
  addSourceBlob(store, id, source);
  if (consumed.status === 'rejected') throw consumed.reason;
  return { value: consumed.value };
}

/**
 * A blob's bytes: from the blob store, or, for the blob of a lazy layer not fetched, from
 * its source (streamed through, not stored).
 */
export function openBlob(store: Store, digest: Digest, signal?: AbortSignal): Readable {
  const source = states.get(store)?.byDigest.get(digest);
  if (!source || existsSync(store.blobs.path(digest))) return store.blobs.stream(digest);
  const out = new PassThrough();
  source.fetch(signal).then(
    (stream) => {
      stream.on('error', (error) => out.destroy(error));
      stream.pipe(out);
    },
    (error: unknown) => out.destroy(error as Error),
  );
  return out;
}

export function compressionOf(mediaType: string): 'gzip' | 'zstd' | 'uncompressed' {
  return mediaType.endsWith('gzip') ? 'gzip' : mediaType.endsWith('zstd') ? 'zstd' : 'uncompressed';
}

/**
 * Fetch the blobs among `digests` that are lazy layers' and not stored (an archive
 * writes layer bytes from the blob store), a few at a time.
 */
export async function fetchLazyBlobs(
  store: Store,
  digests: Iterable<Digest>,
  signal?: AbortSignal,
): Promise<void> {
  const state = states.get(store);
  if (!state) return;
  const wanted = new Set(digests);
  const ids = [...state.bySnapshot]
    .filter(([, source]) => wanted.has(source.descriptor.digest))
    .map(([id]) => id);
  await Promise.all(
    ids.map(async (id) => {
      if (!hasStoredBlob(store, id)) await fetchLazyBlob(store, id, signal);
    }),
  );
}

/**
 * Keep the store whole after a build that only stored an image: the blobs of the lazy
 * layers of `top`'s chain are fetched (not unpacked), so a later process can unpack them.
 * Returns how many were fetched.
 */
export async function settleLazyLayers(
  store: Store,
  top: SnapshotId | null,
  signal?: AbortSignal,
): Promise<number> {
  if (top === null || !states.get(store)?.bySnapshot.size) return 0;
  const lazy = store.snapshots
    .chain(top)
    .filter((s) => lazySourceOf(store, s.id) && !isUnpacked(s) && !hasStoredBlob(store, s.id));
  await Promise.all(lazy.map((s) => fetchLazyBlob(store, s.id, signal)));
  return lazy.length;
}
