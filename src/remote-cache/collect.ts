/**
 * Which cache records a `--cache-to` exports, with their layer chains. `mode=min`: the
 * steps whose result is a layer of a built image (so a rebuild of the same image hits);
 * `mode=max`: every step of the build with a stored result, other stages included.
 */
import type { SnapshotId, Store } from '../cache/types.ts';
import type { Compression } from '../exporter/compression.ts';
import { ensureLayerBlob, type ImageLayer } from '../exporter/image.ts';
import {
  compressionOf,
  fetchLazyBlob,
  hasStoredBlob,
  lazySourceOf,
} from '../engine/lazy-layers.ts';
import type { Digest } from '../shared/digest.ts';
import type { CacheMode, ChainLayer, ExportRecord } from './types.ts';

export interface CollectOptions {
  mode: CacheMode;
  /** Top snapshots of the built images (null: an image with no layers). */
  roots: ReadonlyArray<SnapshotId | null>;
  compression: Compression;
  compressionLevel?: number;
  /** Recompress layers stored in another compression (default: reuse them as they are). */
  forceCompression?: boolean;
}

/** The records under `keys` (the build's cache keys) that `options.mode` exports. */
export async function collectRecords(
  store: Store,
  keys: Iterable<Digest>,
  options: CollectOptions,
): Promise<ExportRecord[]> {
  const inImage = new Set<SnapshotId>();
  for (const root of options.roots)
    if (root !== null) for (const s of store.snapshots.chain(root)) inImage.add(s.id);
  const picked: Array<{ key: Digest; top: SnapshotId | null }> = [];
  for (const key of new Set(keys)) {
    const record = store.cache.get(key);
    const result = record?.results.length === 1 ? record.results[0] : undefined;
    if (!result) continue;
    if ('empty' in result) {
      if (options.mode === 'max') picked.push({ key, top: null });
    } else if (options.mode === 'max' || inImage.has(result.snapshot)) {
      picked.push({ key, top: result.snapshot });
    }
  }
  const layers = new Map<SnapshotId, Promise<ChainLayer>>();
  const layerOf = (id: SnapshotId): Promise<ChainLayer> => {
    let layer = layers.get(id);
    if (!layer) {
      layer = blobOf(store, id, options).then((l) => ({
        descriptor: l.descriptor,
        diffId: l.diffId,
        createdAt: store.snapshots.get(id)?.createdAt ?? 0,
      }));
      layers.set(id, layer);
    }
    return layer;
  };
  return Promise.all(
    picked.map(async ({ key, top }) => ({
      key,
      chain:
        top === null
          ? []
          : await Promise.all(
              store.snapshots
                .chain(top)
                .reverse()
                .map((s) => layerOf(s.id)),
            ),
    })),
  );
}

/** A stored blob of the snapshot in any compression, unless forced to `compression`. */
async function blobOf(store: Store, id: SnapshotId, options: CollectOptions): Promise<ImageLayer> {
  const snapshot = store.snapshots.get(id);
  if (!options.forceCompression && snapshot?.diffId) {
    const stored = store.snapshots.layerBlobs(id);
    const preferred = [
      ...stored.filter((b) => b.compression === options.compression),
      ...stored.filter((b) => b.compression !== options.compression),
    ];
    for (const blob of preferred) {
      if (await store.blobs.has(blob.digest))
        return {
          diffId: snapshot.diffId,
          descriptor: { mediaType: blob.mediaType, digest: blob.digest, size: blob.size },
        };
    }
  }
  // A lazy layer of an imported cache (ADR 11) travels on as the blob it came as.
  const source = lazySourceOf(store, id);
  if (source && snapshot?.diffId && !hasStoredBlob(store, id)) {
    const suits =
      !options.forceCompression ||
      compressionOf(source.descriptor.mediaType) === options.compression;
    if (suits) return { diffId: snapshot.diffId, descriptor: source.descriptor };
    await fetchLazyBlob(store, id);
  }
  return ensureLayerBlob(store, id, {
    compression: options.compression,
    ...(options.compressionLevel !== undefined
      ? { compressionLevel: options.compressionLevel }
      : {}),
  });
}
