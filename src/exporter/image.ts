/**
 * Image assembly: layer blobs from snapshots (reused when already made), then the config
 * and manifest, all written to the store's blob store. Times come from SOURCE_DATE_EPOCH
 * when it is set, so the same build gives the same digests.
 */
import { availableParallelism } from 'node:os';
import { PassThrough } from 'node:stream';
import pLimit from 'p-limit';
import type { BlobStore, LayerBlob, SnapshotId, SnapshotStore } from '../cache/types.ts';
import { sha256, type Digest } from '../shared/digest.ts';
import type { XattrMap } from './xattrs.ts';
import { MediaType, type Descriptor, type ImageConfig, type Manifest } from '../shared/oci.ts';
import {
  dockerLayerMediaType,
  ociLayerMediaType,
  ociLayerMediaTypeOf,
  openDecompressed,
  type Compression,
} from './compression.ts';
import { ImageExportError } from './errors.ts';
import type { LayerWriteOptions } from './layer-writer.ts';
import { lazyModule } from '../shared/lazy-module.ts';

const loadLayerWriter = lazyModule(() => import('./layer-writer.ts'));

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

/**
 * Write an image's config and manifest to the blob store and return both. The two are
 * written side by side: each put syncs its file and the blob directory (~1–2 ms), and the
 * manifest needs only the config's digest, known before it is written.
 */
export async function assembleImage(options: AssembleImageOptions): Promise<AssembledImage> {
  const { ociMediaTypes, blobs } = options;
  const configBytes = Buffer.from(JSON.stringify(buildConfig(options)));
  const configDescriptor: Descriptor = {
    mediaType: ociMediaTypes ? MediaType.OciConfig : MediaType.DockerConfig,
    digest: sha256(configBytes),
    size: configBytes.length,
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
  const [, manifestInfo] = await Promise.all([blobs.put(configBytes), blobs.put(manifestBytes)]);
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

/** How an output wants a layer's blob. */
export interface LayerBlobOptions extends LayerWriteOptions {
  /**
   * Compressions an existing blob of a base-image layer may have instead of `compression`
   * (a base layer's gzip blob stays in a zstd image unless force-compression is set, as in
   * BuildKit). Default: none, the blob has `compression`.
   */
  reuse?: readonly Compression[];
}

/**
 * The compressed blob of one snapshot, made on demand and remembered: a blob recorded for
 * the snapshot with this compression (or one `reuse` allows) is returned as it is;
 * otherwise the layer tar — decompressed from another blob of the layer when there is one,
 * else written from the snapshot — is compressed into the blob store and recorded with
 * `addLayerBlob`, so the next push, archive or cache export pays nothing. Rewritten
 * timestamps change the bytes, so such blobs are written each time and not recorded.
 */
export async function ensureLayerBlob(
  store: LayerStore,
  id: SnapshotId,
  options: LayerBlobOptions,
): Promise<ImageLayer> {
  const snapshot = store.snapshots.get(id);
  if (!snapshot) throw new ImageExportError(`snapshot ${id} does not exist`);
  const rewrite = options.rewriteTimestamps === true && options.sourceDateEpoch !== undefined;
  const stored: LayerBlob[] = [];
  if (!rewrite && snapshot.diffId) {
    for (const blob of store.snapshots.layerBlobs(id))
      if (await store.blobs.has(blob.digest)) stored.push(blob);
    // Only a layer that came as a blob (a base image's) keeps another compression: a layer
    // this store built gets the compression asked for, even when another was made before.
    const reuse = snapshot.tarSize === undefined ? (options.reuse ?? []) : [];
    const accepted = [options.compression, ...reuse];
    for (const compression of accepted) {
      const blob = stored.find((b) => b.compression === compression);
      if (blob) return { diffId: snapshot.diffId, descriptor: descriptorOf(blob) };
    }
  }
  // A pulled layer's tar cannot be written again byte for byte: convert its blob instead.
  const source = stored.find((b) => b.compression !== 'uncompressed') ?? stored[0];
  const pipe = new PassThrough();
  const ingesting = store.blobs.ingest(pipe).catch((err: unknown) => {
    pipe.destroy(err as Error); // stop the writer when the store cannot take the blob
    throw err;
  });
  const tally = { contentBytes: 0 };
  const [written, info] = await Promise.all([
    // Loaded here: a build that keeps its layers in the store never compresses one.
    loadLayerWriter().then(async ({ compressLayerTar, generateLayerTar }) =>
      compressLayerTar(
        source
          ? await decompressedBlob(store.blobs, source.digest)
          : generateLayerTar(snapshot.dir, options, undefined, tally),
        pipe,
        options,
      ),
    ),
    ingesting,
  ]);
  const descriptor = { mediaType: written.mediaType, digest: info.digest, size: info.size };
  // Record the blob only when it carries the snapshot's diff id: a pulled layer keeps the
  // diff id of its original tar, which a re-written tar does not reproduce byte for byte.
  if (!rewrite && (snapshot.diffId ?? written.diffId) === written.diffId) {
    if (!source && snapshot.tarSize === undefined)
      store.snapshots.setDiffId(id, written.diffId, written.uncompressedSize, tally.contentBytes);
    store.snapshots.addLayerBlob(id, { ...descriptor, compression: options.compression });
  }
  return { diffId: written.diffId, descriptor };
}

async function decompressedBlob(blobs: BlobStore, digest: Digest): Promise<AsyncIterable<Buffer>> {
  const { stream } = await openDecompressed(blobs.stream(digest), () => undefined);
  return stream as AsyncIterable<Buffer>;
}

function descriptorOf(blob: LayerBlob): Descriptor {
  return { mediaType: blob.mediaType, digest: blob.digest, size: blob.size };
}

/**
 * A snapshot's layer as the store's own image lists it, without compressing anything:
 * the uncompressed tar's digest (the diff ID) and size, found by hashing the tar once and
 * kept with the snapshot; no blob is written (ADR 12). A layer tbuild did not write (a
 * pulled one) is listed with the blob it came in. `ensureLayerBlob` makes the compressed
 * blob when a push, an archive or a cache export needs it.
 */
export function ensureLayerDiff(
  store: LayerStore,
  id: SnapshotId,
  xattrs?: Promise<XattrMap>,
): Promise<ImageLayer> {
  // One hash per layer at a time: a build starts it when the layer is made (prehashLayer)
  // and its export joins it.
  let running = hashing.get(store.snapshots);
  if (!running) hashing.set(store.snapshots, (running = new Map()));
  const pending = running.get(id);
  if (pending) return pending;
  const started = layerDiff(store, id, xattrs).finally(() => running.delete(id));
  running.set(id, started);
  return started;
}

/** Diff IDs being computed, by snapshot store and snapshot. */
const hashing = new WeakMap<SnapshotStore, Map<SnapshotId, Promise<ImageLayer>>>();

/**
 * Start finding a layer's diff ID now, in the background: the export needs it, and the
 * steps after the one that made the layer run meanwhile. A failure here is not reported:
 * the export asks again and gets the error then.
 */
export function prehashLayer(
  store: LayerStore,
  id: SnapshotId,
  /** The layer's extended attributes, if already being read (engine/ops/new-snapshot.ts). */
  xattrs?: Promise<XattrMap>,
): void {
  ensureLayerDiff(store, id, xattrs).catch(() => undefined);
}

async function layerDiff(
  store: LayerStore,
  id: SnapshotId,
  xattrs?: Promise<XattrMap>,
): Promise<ImageLayer> {
  const snapshot = store.snapshots.get(id);
  if (!snapshot) throw new ImageExportError(`snapshot ${id} does not exist`);
  if (snapshot.diffId && snapshot.tarSize !== undefined)
    return {
      diffId: snapshot.diffId,
      descriptor: uncompressedLayer(snapshot.diffId, snapshot.tarSize),
    };
  if (snapshot.diffId) {
    const recorded = store.snapshots.layerBlobs(id);
    for (const compression of ['gzip', 'zstd', 'uncompressed']) {
      const blob = recorded.find((b) => b.compression === compression);
      if (blob && (await store.blobs.has(blob.digest)))
        return { diffId: snapshot.diffId, descriptor: descriptorOf(blob) };
    }
  }
  const { hashLayerTar } = await loadLayerWriter();
  const read = await xattrs?.catch(() => undefined); // read again below on a failure
  const written = await hashLayerTar(snapshot.dir, { worker: worthAWorker(snapshot) }, read);
  // A pulled layer whose blob is gone gets a tar of its own, not recorded: it does not
  // carry the diff ID the layer came with.
  if ((snapshot.diffId ?? written.diffId) === written.diffId)
    store.snapshots.setDiffId(id, written.diffId, written.size, written.contentBytes);
  return { diffId: written.diffId, descriptor: uncompressedLayer(written.diffId, written.size) };
}

/**
 * A layer this size or larger has its tar made in a worker thread: starting one costs a
 * few tens of milliseconds, which small layers would not win back. A layer without a
 * size yet is one with too many entries to measure at its commit (the hash measures it).
 */
const WORKER_MIN_BYTES = 8 * 1024 * 1024;

function worthAWorker(snapshot: { size?: number }): boolean {
  return snapshot.size === undefined || snapshot.size >= WORKER_MIN_BYTES;
}

function uncompressedLayer(diffId: Digest, size: number): Descriptor {
  return { mediaType: ociLayerMediaType('uncompressed'), digest: diffId, size };
}

/** Layer blobs for several snapshots, compressed `concurrency` at a time (default: cores). */
export async function ensureLayerBlobs(
  store: LayerStore,
  ids: readonly SnapshotId[],
  options: LayerBlobOptions & { concurrency?: number },
): Promise<ImageLayer[]> {
  const limit = pLimit(options.concurrency ?? availableParallelism());
  return Promise.all(ids.map((id) => limit(() => ensureLayerBlob(store, id, options))));
}

/** The store's own layers of several snapshots (`ensureLayerDiff`), hashed in parallel. */
export async function ensureLayerDiffs(
  store: LayerStore,
  ids: readonly SnapshotId[],
): Promise<ImageLayer[]> {
  const limit = pLimit(availableParallelism());
  return Promise.all(ids.map((id) => limit(() => ensureLayerDiff(store, id))));
}
