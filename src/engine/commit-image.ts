/**
 * Turn a build result into an image in the store: one layer blob per snapshot of the
 * result's chain (reused when already compressed, e.g. base-image layers), then the
 * config and manifest.
 */
import type { SnapshotId, Store } from '../cache/types.ts';
import { assembleImage, ensureLayerBlobs, type AssembledImage } from '../exporter/image.ts';
import type { Compression } from '../exporter/compression.ts';
import type { ImageConfig } from '../shared/oci.ts';
import type { Ref } from './types.ts';

export interface CommitImageOptions {
  compression?: Compression;
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
  const ids =
    top === null
      ? []
      : store.snapshots
          .chain(top)
          .map((s) => s.id)
          .reverse();
  const layers = await ensureLayerBlobs(store, ids, {
    compression: options.compression ?? 'gzip',
    ...(options.compressionLevel !== undefined
      ? { compressionLevel: options.compressionLevel }
      : {}),
    ...(options.sourceDateEpoch !== undefined ? { sourceDateEpoch: options.sourceDateEpoch } : {}),
    ...(options.rewriteTimestamps ? { rewriteTimestamps: true } : {}),
  });
  const assembled = await assembleImage({
    config,
    layers,
    ociMediaTypes: options.ociMediaTypes ?? true,
    blobs: store.blobs,
    ...(options.sourceDateEpoch !== undefined ? { sourceDateEpoch: options.sourceDateEpoch } : {}),
  });
  return { ...assembled, snapshot: top };
}
