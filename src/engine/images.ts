/**
 * Base images: the local store first (no network for an image already there), the
 * registry when it is missing or `--pull` is given. Pulled blobs land in the store once;
 * each layer is unpacked into a snapshot once per (parent, diff_id), while it downloads,
 * a few layers side by side (pull-layers.ts).
 */
import type { SnapshotId, Store } from '../cache/types.ts';
import { matchesPlatform, selectPlatformManifest } from '../registry/platform-select.ts';
import { normalizeImageName } from '../registry/reference.ts';
import { isIndexMediaType } from './commit-index.ts';
import { compressionOf } from './lazy-layers.ts';
import { checkUnpacked, dropFailedSnapshot, pullLayers } from './pull-layers.ts';
import type { RegistryClient } from '../registry/types.ts';
import type { Digest } from '../shared/digest.ts';
import { TbuildError } from '../shared/errors.ts';
import type { ImageConfig, Index, Manifest } from '../shared/oci.ts';
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
  /**
   * Name what is pulled whatever the name held (`tbuild pull --platform`, as docker pull).
   * Builds keep a stored image's name when they pull the base for another platform.
   */
  replaceNames?: boolean;
  /** Told what an unpacked layer left out (device nodes in a rootless build, ADR 17). */
  onWarning?: (message: string) => void;
}): ImageSourceProvider {
  const { store } = options;
  const pulled = new Map<Digest, Pulled>();

  return {
    async resolve(ref: string, platform: Platform, pull: boolean): Promise<ResolvedImage> {
      const name = normalizeImageName(ref);
      const record = pull ? undefined : store.images.get(name);
      const stored = record && (await storedForPlatform(store, record, platform));
      if (stored) return { ref: name, ...stored, origin: 'store' };
      let image;
      try {
        image = await (await options.registry()).resolve(name, platform);
      } catch (error) {
        // A stored image made for another platform is the one to use when the registry
        // cannot offer the wanted one: Docker does the same, and the frontend warns
        // (InvalidBaseImagePlatform). Only `--pull` insists on the registry.
        const fallback = record && !pull && (await storedAnyPlatform(store, record));
        if (fallback && isRegistryMiss(error)) return { ref: name, ...fallback, origin: 'store' };
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
        // One platform of a stored index: kept as an image of its own, by its config.
        const child = image.configDigest && store.images.get(image.configDigest);
        if (child && child.manifest === image.manifestDigest) return child.snapshot;
      }
      const data =
        pulled.get(image.manifestDigest) ??
        (image.origin === 'store' ? await readStoredManifest(store, image) : undefined);
      if (!data)
        throw new ImageNotAvailableError(
          image.ref,
          new Error('image vanished from the store during the build'),
        );
      const client = await options.registry();
      await store.blobs.put(data.body);
      const configInfo = await store.blobs.put(data.configBody);
      const diffIds = image.config.rootfs.diff_ids;
      const layers = data.manifest.layers.map((descriptor, i) => {
        const diffId = diffIds[i];
        if (!diffId)
          throw new TbuildError(
            'TBUILD_IMAGE_INVALID',
            `${image.ref}: config lists fewer diff_ids than the manifest has layers`,
          );
        return { descriptor, diffId };
      });
      signal.throwIfAborted();
      const parent = await pullLayers({
        store,
        what: image.ref,
        layers,
        open: (layer, layerSignal) =>
          client.fetchBlob(image.ref, layer.digest, { size: layer.size, signal: layerSignal }),
        signal,
        progress,
        onWarning: options.onWarning,
      });
      // A base pulled for another platform than the stored one does not take its name:
      // its snapshots are the build's, and the next build asks the registry again.
      const record = {
        manifest: image.manifestDigest,
        config: configInfo.digest,
        snapshot: parent,
        createdAt: Date.now(),
      };
      const named = store.images.get(image.ref);
      if (options.replaceNames) store.images.set({ ...record, name: image.ref });
      else if (named && (await isIndexRecord(store, named))) store.images.keepUnnamed(record);
      else if (!named || (await sameImagePlatform(store, named.config, image.config)))
        store.images.set({ ...record, name: image.ref });
      return parent;
    },
  };
}

/**
 * Unpack one layer blob into a new snapshot on `parent`, checking its diff_id; `createdAt`
 * keeps the layer's own creation time (a layer from an imported cache).
 */
export async function unpackInto(
  store: Store,
  parent: SnapshotId | null,
  blob: Digest,
  diffId: Digest,
  mediaType: string,
  size: number,
  what: string,
  onWarning?: (message: string) => void,
  createdAt?: number,
): Promise<SnapshotId> {
  const snapshot = await store.snapshots.create(parent, `layer ${diffId.slice(7, 19)} of ${what}`);
  try {
    const { unpackLayer } = await import('../exporter/layer-unpack.ts');
    const result = await unpackLayer(store.blobs.stream(blob), snapshot.dir);
    checkUnpacked(result, blob, diffId, what, onWarning);
    const committed = await store.snapshots.commit(snapshot.id, {
      diffId,
      ...(createdAt !== undefined ? { createdAt } : {}),
    });
    store.snapshots.addLayerBlob(committed.id, {
      digest: blob,
      size,
      mediaType,
      compression: compressionOf(mediaType),
    });
    return committed.id;
  } catch (error) {
    return dropFailedSnapshot(store, snapshot.id, error, `unpacking layer ${blob} of ${what}`);
  }
}

/**
 * The stored image `record` for `platform`: itself when its config is for that platform,
 * the matching manifest when it is an index (a multi-platform build), else undefined.
 */
async function storedForPlatform(
  store: Store,
  record: { manifest: Digest; config: Digest },
  platform: Platform,
): Promise<{ manifestDigest: Digest; config: ImageConfig; configDigest: Digest } | undefined> {
  const top = await store.blobs.readJson<Manifest & Index>(record.manifest);
  if (isIndexMediaType(top.mediaType) || Array.isArray(top.manifests)) {
    const chosen = selectPlatformManifest(top, platform);
    if (!chosen || !(await store.blobs.has(chosen.digest))) return undefined;
    const manifest = await store.blobs.readJson<Manifest>(chosen.digest);
    if (!(await store.blobs.has(manifest.config.digest))) return undefined;
    const config = await store.blobs.readJson<ImageConfig>(manifest.config.digest);
    return { manifestDigest: chosen.digest, config, configDigest: manifest.config.digest };
  }
  const config = await store.blobs.readJson<ImageConfig>(record.config);
  // An image without a platform (an old import) is taken for any.
  if (config.architecture && config.os && !matchesPlatform(platformOf(config), platform))
    return undefined;
  return { manifestDigest: record.manifest, config, configDigest: record.config };
}

/** A stored single-platform image, whatever its platform (undefined for an index). */
async function storedAnyPlatform(
  store: Store,
  record: { manifest: Digest; config: Digest },
): Promise<{ manifestDigest: Digest; config: ImageConfig; configDigest: Digest } | undefined> {
  if (await isIndexRecord(store, record)) return undefined;
  const config = await store.blobs.readJson<ImageConfig>(record.config);
  return { manifestDigest: record.manifest, config, configDigest: record.config };
}

/** The registry could not be reached or does not have the image (not: access denied). */
function isRegistryMiss(error: unknown): boolean {
  return (
    error instanceof TbuildError &&
    ['TBUILD_REGISTRY_REQUEST', 'TBUILD_REGISTRY_NOT_FOUND'].includes(error.code)
  );
}

function platformOf(config: ImageConfig): Platform {
  return {
    os: config.os,
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
  };
}

async function sameImagePlatform(
  store: Store,
  storedConfig: Digest,
  config: ImageConfig,
): Promise<boolean> {
  const stored = await store.blobs.readJson<ImageConfig>(storedConfig).catch(() => undefined);
  if (!stored?.architecture) return true;
  return matchesPlatform(platformOf(stored), platformOf(config));
}

async function isIndexRecord(store: Store, record: { manifest: Digest }): Promise<boolean> {
  const top = await store.blobs.readJson<Partial<Index>>(record.manifest);
  return isIndexMediaType(top.mediaType) || Array.isArray(top.manifests);
}

/** A stored image's manifest and config as a pull would have them (its snapshots are gone). */
async function readStoredManifest(store: Store, image: ResolvedImage): Promise<Pulled | undefined> {
  if (!(await store.blobs.has(image.manifestDigest))) return undefined;
  const body = await store.blobs.read(image.manifestDigest);
  const manifest = JSON.parse(body.toString('utf8')) as Manifest;
  if (!(await store.blobs.has(manifest.config.digest))) return undefined;
  return { manifest, body, configBody: await store.blobs.read(manifest.config.digest) };
}
