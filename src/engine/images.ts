/**
 * Base images: the local store first (no network for an image already there), the
 * registry when it is missing or `--pull` is given. Pulled blobs land in the store once;
 * each layer is unpacked into a snapshot once per (parent, diff_id).
 */
import { Transform } from 'node:stream';
import type { SnapshotId, Store } from '../cache/types.ts';
import { normalizeImageName } from '../registry/reference.ts';
import type { RegistryClient } from '../registry/types.ts';
import type { Digest } from '../shared/digest.ts';
import { TbuildError } from '../shared/errors.ts';
import type { ImageConfig, Manifest } from '../shared/oci.ts';
import type { Platform } from '../shared/platform.ts';
import type { ImageSourceProvider, ResolvedImage } from './types.ts';

interface Pulled {
  manifest: Manifest;
  body: Buffer;
  configBody: Buffer;
}

export class ImageNotAvailableError extends TbuildError {
  constructor(ref: string, cause: unknown) {
    super(
      'TBUILD_IMAGE_NOT_FOUND',
      `${ref}: not found in the local store, and pulling it failed: ${(cause as Error)?.message ?? cause}`,
      {
        cause,
        hint: 'Load it with `tbuild load -i image.tar`, or check the name and that the registry is reachable (`tbuild pull`).',
      },
    );
  }
}

export function createImageProvider(options: {
  store: Store;
  registry: () => Promise<RegistryClient>;
}): ImageSourceProvider {
  const { store } = options;
  const pulled = new Map<Digest, Pulled>();

  return {
    async resolve(ref: string, platform: Platform, pull: boolean): Promise<ResolvedImage> {
      const name = normalizeImageName(ref);
      const record = pull ? undefined : store.images.get(name);
      if (record) {
        const config = await store.blobs.readJson<ImageConfig>(record.config);
        return { ref: name, manifestDigest: record.manifest, config, origin: 'store' };
      }
      let image;
      try {
        image = await (await options.registry()).resolve(name, platform);
      } catch (error) {
        if (!pull && error instanceof TbuildError && error.code === 'TBUILD_REGISTRY_UNREACHABLE')
          throw new ImageNotAvailableError(name, error);
        if (error instanceof TbuildError) throw error;
        throw new ImageNotAvailableError(name, error);
      }
      pulled.set(image.digest, {
        manifest: image.manifest,
        body: image.body,
        configBody: image.configBody,
      });
      return { ref: name, manifestDigest: image.digest, config: image.config, origin: 'registry' };
    },

    async materialize(image, signal, progress): Promise<SnapshotId | null> {
      if (image.origin === 'store') {
        const record = store.images.get(image.ref);
        if (record && record.manifest === image.manifestDigest) return record.snapshot;
      }
      const data = pulled.get(image.manifestDigest);
      if (!data)
        throw new ImageNotAvailableError(
          image.ref,
          new Error('image vanished from the store during the build'),
        );
      const client = await options.registry();
      await store.blobs.put(data.body);
      const configInfo = await store.blobs.put(data.configBody);
      const diffIds = image.config.rootfs.diff_ids;
      let parent: SnapshotId | null = null;
      for (const [i, layer] of data.manifest.layers.entries()) {
        signal.throwIfAborted();
        const diffId = diffIds[i];
        if (!diffId)
          throw new TbuildError(
            'TBUILD_IMAGE_INVALID',
            `${image.ref}: config lists fewer diff_ids than the manifest has layers`,
          );
        const existing = store.snapshots.findByDiffId(parent, diffId);
        if (existing) {
          parent = existing.id;
          continue;
        }
        if (!(await store.blobs.has(layer.digest))) {
          const stream = await client.fetchBlob(image.ref, layer.digest, {
            size: layer.size,
            signal,
          });
          let received = 0;
          // Count through a transform: a 'data' listener would let bytes flow past the store.
          const counted = stream.pipe(
            new Transform({
              transform(chunk: Buffer, _encoding, done) {
                progress(layer.digest, (received += chunk.length), layer.size);
                done(null, chunk);
              },
            }),
          );
          stream.on('error', (error) => counted.destroy(error));
          await store.blobs.ingest(counted, { digest: layer.digest, size: layer.size });
        }
        parent = await unpackInto(
          store,
          parent,
          layer.digest,
          diffId,
          layer.mediaType,
          layer.size,
          image.ref,
        );
      }
      store.images.set({
        name: image.ref,
        manifest: image.manifestDigest,
        config: configInfo.digest,
        snapshot: parent,
        createdAt: Date.now(),
      });
      return parent;
    },
  };
}

/** Unpack one layer blob into a new snapshot on `parent`, checking its diff_id. */
export async function unpackInto(
  store: Store,
  parent: SnapshotId | null,
  blob: Digest,
  diffId: Digest,
  mediaType: string,
  size: number,
  what: string,
): Promise<SnapshotId> {
  const snapshot = await store.snapshots.create(parent, `layer ${diffId.slice(7, 19)} of ${what}`);
  try {
    const { unpackLayer } = await import('../exporter/layer-unpack.ts');
    const result = await unpackLayer(store.blobs.stream(blob), snapshot.dir);
    if (result.diffId !== diffId) {
      throw new TbuildError(
        'TBUILD_DIFFID_MISMATCH',
        `${what}: layer ${blob} unpacks to ${result.diffId}, but the config says ${diffId}`,
        {
          hint: 'The image is corrupt; pull it again or rebuild it.',
        },
      );
    }
    const committed = await store.snapshots.commit(snapshot.id, { diffId });
    const compression = mediaType.endsWith('gzip')
      ? 'gzip'
      : mediaType.endsWith('zstd')
        ? 'zstd'
        : 'uncompressed';
    store.snapshots.addLayerBlob(committed.id, { digest: blob, size, mediaType, compression });
    return committed.id;
  } catch (error) {
    await store.snapshots.remove(snapshot.id);
    throw error;
  }
}
