/**
 * Image assembly: layer blobs from snapshots (reused when already made), then the config
 * and manifest, all written to the store's blob store. Times come from SOURCE_DATE_EPOCH
 * when it is set, so the same build gives the same digests.
 */
import { availableParallelism } from 'node:os';
import { PassThrough } from 'node:stream';
import pLimit from 'p-limit';
import type { BlobStore, SnapshotId, SnapshotStore } from '../cache/types.ts';
import type { Digest } from '../shared/digest.ts';
import { MediaType, type Descriptor, type ImageConfig, type Manifest } from '../shared/oci.ts';
import { dockerLayerMediaType, ociLayerMediaTypeOf } from './compression.ts';
import { ImageExportError } from './errors.ts';
import type { LayerWriteOptions } from './layer-writer.ts';

/** A layer of an image: its uncompressed digest and the blob that carries it. */
export interface ImageLayer {
  diffId: Digest;
  descriptor: Descriptor;
}

export interface AssembleImageOptions {
  config: ImageConfig;
  layers: readonly ImageLayer[];
  /** OCI media types (true) or Docker v2 schema 2 ones (false). */
  ociMediaTypes: boolean;
  /** Manifest annotations (OCI only; Docker manifests have none). */
  annotations?: Record<string, string>;
  /** SOURCE_DATE_EPOCH in seconds: sets `created` and every history time. */
  sourceDateEpoch?: number;
  blobs: BlobStore;
}

export interface StoredBlob {
  descriptor: Descriptor;
  bytes: Buffer;
}

/** An assembled image: config and manifest are in the blob store, as are the layers. */
export interface AssembledImage {
  config: StoredBlob;
  manifest: StoredBlob;
  /** The manifest's layer descriptors, in order. */
  layers: Descriptor[];
}

/** Write an image's config and manifest to the blob store and return both. */
export async function assembleImage(options: AssembleImageOptions): Promise<AssembledImage> {
  const { ociMediaTypes, blobs } = options;
  const configBytes = Buffer.from(JSON.stringify(buildConfig(options)));
  const configInfo = await blobs.put(configBytes);
  const configDescriptor: Descriptor = {
    mediaType: ociMediaTypes ? MediaType.OciConfig : MediaType.DockerConfig,
    digest: configInfo.digest,
    size: configInfo.size,
  };
  const layers = options.layers.map(({ descriptor }) => ({
    // One manifest, one family of media types: tools such as umoci refuse a Docker layer
    // type in an OCI manifest.
    mediaType: ociMediaTypes
      ? ociLayerMediaTypeOf(descriptor.mediaType)
      : dockerLayerMediaType(descriptor.mediaType),
    digest: descriptor.digest,
    size: descriptor.size,
    ...(descriptor.annotations ? { annotations: descriptor.annotations } : {}),
  }));
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: ociMediaTypes ? MediaType.OciManifest : MediaType.DockerManifest,
    config: configDescriptor,
    layers,
    ...(ociMediaTypes && options.annotations ? { annotations: options.annotations } : {}),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const manifestInfo = await blobs.put(manifestBytes);
  const { config } = options;
  return {
    config: { descriptor: configDescriptor, bytes: configBytes },
    manifest: {
      descriptor: {
        mediaType: manifest.mediaType!,
        digest: manifestInfo.digest,
        size: manifestInfo.size,
        platform: {
          os: config.os,
          architecture: config.architecture,
          ...(config.variant ? { variant: config.variant } : {}),
        },
      },
      bytes: manifestBytes,
    },
    layers,
  };
}

function buildConfig(options: AssembleImageOptions): ImageConfig {
  const { config, layers, sourceDateEpoch } = options;
  const created =
    sourceDateEpoch === undefined ? config.created : new Date(sourceDateEpoch * 1000).toISOString();
  const history = config.history?.map((entry) =>
    created === undefined || sourceDateEpoch === undefined ? entry : { ...entry, created },
  );
  const nonEmpty = history?.filter((h) => !h.empty_layer).length;
  if (nonEmpty !== undefined && nonEmpty !== layers.length) {
    throw new ImageExportError(
      `image history has ${nonEmpty} non-empty entries for ${layers.length} layers`,
      { hint: 'Mark history entries that add no layer with empty_layer: true.' },
    );
  }
  return {
    ...config,
    ...(created === undefined ? {} : { created }),
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    ...(history ? { history } : {}),
  };
}

/** What layer blob production needs from the store. */
export interface LayerStore {
  blobs: BlobStore;
  snapshots: SnapshotStore;
}

/**
 * The compressed blob of one snapshot: reused from `layerBlobs` when one with this
 * compression exists (and timestamps are not rewritten, which changes the bytes), else
 * written into the blob store and recorded with `addLayerBlob`.
 */
export async function ensureLayerBlob(
  store: LayerStore,
  id: SnapshotId,
  options: LayerWriteOptions,
): Promise<ImageLayer> {
  const snapshot = store.snapshots.get(id);
  if (!snapshot) throw new ImageExportError(`snapshot ${id} does not exist`);
  const rewrite = options.rewriteTimestamps === true && options.sourceDateEpoch !== undefined;
  if (!rewrite && snapshot.diffId) {
    for (const blob of store.snapshots.layerBlobs(id)) {
      if (blob.compression === options.compression && (await store.blobs.has(blob.digest))) {
        const descriptor = { mediaType: blob.mediaType, digest: blob.digest, size: blob.size };
        return { diffId: snapshot.diffId, descriptor };
      }
    }
  }
  const pipe = new PassThrough();
  const ingesting = store.blobs.ingest(pipe).catch((err: unknown) => {
    pipe.destroy(err as Error); // stop the writer when the store cannot take the blob
    throw err;
  });
  const [written, info] = await Promise.all([
    // Loaded here: a fully cached build reuses blobs and never writes a layer.
    import('./layer-writer.ts').then(({ writeLayerTar }) =>
      writeLayerTar(snapshot.dir, pipe, options),
    ),
    ingesting,
  ]);
  const descriptor = { mediaType: written.mediaType, digest: info.digest, size: info.size };
  // Record the blob only when it carries the snapshot's diff id: a pulled layer keeps the
  // diff id of its original tar, which a re-written tar does not reproduce byte for byte.
  if (!rewrite && (snapshot.diffId ?? written.diffId) === written.diffId) {
    if (!snapshot.diffId) store.snapshots.setDiffId(id, written.diffId);
    store.snapshots.addLayerBlob(id, { ...descriptor, compression: options.compression });
  }
  return { diffId: written.diffId, descriptor };
}

/** Layer blobs for several snapshots, compressed `concurrency` at a time (default: cores). */
export async function ensureLayerBlobs(
  store: LayerStore,
  ids: readonly SnapshotId[],
  options: LayerWriteOptions & { concurrency?: number },
): Promise<ImageLayer[]> {
  const limit = pLimit(options.concurrency ?? availableParallelism());
  return Promise.all(ids.map((id) => limit(() => ensureLayerBlob(store, id, options))));
}
