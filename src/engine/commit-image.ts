/**
 * Turn a build result into an image: one layer per snapshot of the result's chain, then
 * the config and manifest. The store's own image (`localLayers`) lists layers by their
 * uncompressed digest and compresses nothing (ADR 12); an image for an output has every
 * layer blob with the output's compression (reused when already made).
 */
import type { SnapshotId, SnapshotInfo, Store } from '../cache/types.ts';
import {
  assembleImage,
  ensureLayerBlobs,
  ensureLayerDiffs,
  type AssembledImage,
  type ImageLayer,
} from '../exporter/image.ts';
import type { Compression } from '../exporter/compression.ts';
import type { ImageConfig } from '../shared/oci.ts';
import {
  compressionOf,
  fetchLazyBlob,
  hasStoredBlob,
  isUnpacked,
  lazySourceOf,
} from './lazy-layers.ts';
import { snapshotChain } from './store-check.ts';
import type { Ref } from './types.ts';

export interface CommitImageOptions {
  /**
   * List layers as the store keeps them (diff IDs, compressed on demand) instead of
   * making compressed blobs; the compression options are then unused.
   */
  localLayers?: boolean;
  compression?: Compression;
  /** Compressions an existing layer blob may keep (no force-compression). */
  reuseCompressions?: readonly Compression[];
  compressionLevel?: number;
  ociMediaTypes?: boolean;
  sourceDateEpoch?: number;
  rewriteTimestamps?: boolean;
}

export interface CommittedImage extends AssembledImage {
  /** Top snapshot of the image, null for an image without layers. */
  snapshot: SnapshotId | null;
}

export async function commitImage(
  store: Store,
  root: Ref | null,
  config: ImageConfig,
  options: CommitImageOptions = {},
): Promise<CommittedImage> {
  if (root?.kind === 'local')
    throw new Error('internal: a build result cannot be the local context');
  const top = root?.kind === 'snapshot' ? root.id : null;
  const chain = top === null ? [] : store.snapshots.chain(top).reverse();
  // Lazy layers of an imported cache are listed with their cache blob when it will do;
  // the others need their blob or their files.
  const lazy = await lazyLayers(store, chain, options);
  if (chain.some((s) => !lazy.has(s.id) && !isUnpacked(s) && !hasStoredBlob(store, s.id)))
    await snapshotChain(store, top!);
  const ids = chain.map((s) => s.id).filter((id) => !lazy.has(id));
  const made = options.localLayers
    ? await ensureLayerDiffs(store, ids)
    : await ensureLayerBlobs(store, ids, {
        compression: options.compression ?? 'gzip',
        ...(options.reuseCompressions ? { reuse: options.reuseCompressions } : {}),
        ...(options.compressionLevel !== undefined
          ? { compressionLevel: options.compressionLevel }
          : {}),
        ...(options.sourceDateEpoch !== undefined
          ? { sourceDateEpoch: options.sourceDateEpoch }
          : {}),
        ...(options.rewriteTimestamps ? { rewriteTimestamps: true } : {}),
      });
  const layers = chain.map((s) => lazy.get(s.id) ?? made.shift()!);
  const normalized = normalizeHistory(config, chain);
  const assembled = await assembleImage({
    config: options.sourceDateEpoch === undefined ? timesFromLayers(normalized, chain) : normalized,
    layers,
    ociMediaTypes: options.ociMediaTypes ?? true,
    blobs: store.blobs,
    ...(options.sourceDateEpoch !== undefined ? { sourceDateEpoch: options.sourceDateEpoch } : {}),
  });
  return { ...assembled, snapshot: top };
}

/**
 * The layers of `chain` that stay lazy (neither unpacked nor with a stored blob) and are
 * listed with their cache blob as it is. A lazy layer whose blob does not suit (another
 * compression, rewritten timestamps) has its blob fetched instead, to convert.
 */
async function lazyLayers(
  store: Store,
  chain: readonly SnapshotInfo[],
  options: CommitImageOptions,
): Promise<Map<SnapshotId, ImageLayer>> {
  const lazy = new Map<SnapshotId, ImageLayer>();
  const fetching: Promise<boolean>[] = [];
  for (const info of chain) {
    const source = lazySourceOf(store, info.id);
    if (!source || !info.diffId || isUnpacked(info) || hasStoredBlob(store, info.id)) continue;
    const compression = compressionOf(source.descriptor.mediaType);
    const suits =
      options.localLayers ||
      (!(options.rewriteTimestamps && options.sourceDateEpoch !== undefined) &&
        [options.compression ?? 'gzip', ...(options.reuseCompressions ?? [])].includes(
          compression,
        ));
    if (suits) lazy.set(info.id, { diffId: info.diffId, descriptor: source.descriptor });
    else fetching.push(fetchLazyBlob(store, info.id));
  }
  await Promise.all(fetching);
  return lazy;
}

/**
 * A history with one non-empty entry per layer, as BuildKit's exporter reconciles them
 * (normalizeLayersAndHistory): a valid OCI base image may have no history, or fewer
 * entries than layers. Surplus non-empty entries are marked empty past the last layer;
 * missing ones are appended, described by the layers past those the history accounts
 * for (their time and description), with BuildKit's comment.
 */
export function normalizeHistory(
  config: ImageConfig,
  layers: readonly SnapshotInfo[],
): ImageConfig {
  const history = config.history ?? [];
  const counted = history.filter((h) => !h.empty_layer).length;
  if (counted === layers.length) return config;
  let seen = 0;
  const kept = history.map((h) => {
    if (h.empty_layer) return h;
    return seen++ < layers.length ? h : { ...h, empty_layer: true };
  });
  const missing = layers.slice(counted).map((layer) => ({
    created: new Date(layer.createdAt).toISOString(),
    ...(layer.description ? { created_by: layer.description } : {}),
    comment: 'buildkit.exporter.image.v0',
  }));
  return { ...config, history: [...kept, ...missing] };
}

/**
 * History entries this build added carry the build's start time. Stamp each with the
 * creation time of the layer it describes instead (an entry without a layer takes the
 * latest layer before it), and the image with the newest of them: a fully cached rebuild
 * then gives the same config — the same image ID — as BuildKit does.
 */
export function timesFromLayers(config: ImageConfig, layers: readonly SnapshotInfo[]): ImageConfig {
  const buildTime = config.created;
  const history = config.history;
  if (buildTime === undefined || history === undefined) return config;
  if (history.filter((h) => !h.empty_layer).length !== layers.length) return config;
  let layer = 0;
  let newest: string | undefined;
  const stamped = history.map((entry) => {
    const own = entry.empty_layer ? layers[layer - 1] : layers[layer];
    if (!entry.empty_layer) layer++;
    if (entry.created !== buildTime || own === undefined) return entry;
    const created = new Date(own.createdAt).toISOString();
    if (newest === undefined || created > newest) newest = created;
    return { ...entry, created };
  });
  return { ...config, history: stamped, created: newest ?? buildTime };
}
