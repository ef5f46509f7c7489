/**
 * Push an image from the store: blobs the registry lacks (cross-repo mounted when
 * `mountFrom` has them, or the registry repository of the cache a lazy layer was imported
 * from), then the manifest under each name. A lazy layer's blob that must be uploaded is
 * streamed from its cache, not stored first.
 */
import type { Store } from '../cache/types.ts';
import { formatReference, parseReference, type ImageReference } from '../registry/reference.ts';
import type { RegistryClient } from '../registry/types.ts';
import type { Digest } from '../shared/digest.ts';
import type { Descriptor } from '../shared/oci.ts';
import { mountSourceOf, openBlob } from './lazy-layers.ts';

export interface PushableImage {
  manifest: { descriptor: Descriptor; bytes: Buffer };
  config: { descriptor: Descriptor };
  layers: readonly Descriptor[];
}

export async function pushImage(
  store: Store,
  client: RegistryClient,
  image: PushableImage,
  name: string,
  options: { signal?: AbortSignal; mountFrom?: string } = {},
): Promise<{ uploaded: number; mounted: number; existed: number }> {
  const counts = { uploaded: 0, mounted: 0, existed: 0 };
  const blobs = [...image.layers, image.config.descriptor];
  await Promise.all(
    blobs.map(async (blob) => {
      const outcome = await client.uploadBlob(
        name,
        blob.digest,
        blob.size,
        () => openBlob(store, blob.digest, options.signal),
        {
          ...(options.signal ? { signal: options.signal } : {}),
          ...mountFor(store, blob.digest, options.mountFrom),
        },
      );
      counts[outcome === 'exists' ? 'existed' : outcome]++;
    }),
  );
  await client.putManifest(name, image.manifest.bytes, image.manifest.descriptor.mediaType);
  return counts;
}

/**
 * Push a multi-platform image: each platform's blobs and manifest (by digest), then the
 * index under `name`'s tag.
 */
export async function pushIndex(
  store: Store,
  client: RegistryClient,
  index: {
    descriptor: Descriptor;
    bytes: Buffer;
    images: ReadonlyArray<{ image: PushableImage }>;
  },
  name: string,
  options: { signal?: AbortSignal; mountFrom?: string } = {},
): Promise<void> {
  const ref = parseReference(name);
  for (const { image } of index.images) {
    const byDigest = { ...ref, digest: image.manifest.descriptor.digest } as ImageReference;
    delete byDigest.tag;
    await pushImage(store, client, image, formatReference(byDigest), options);
  }
  await client.putManifest(name, index.bytes, index.descriptor.mediaType);
}

/** Where a blob may be mounted from: the caller's choice, else the cache it came from. */
function mountFor(store: Store, digest: Digest, given?: string): { mountFrom?: string } {
  const from = given ?? mountSourceOf(store, digest);
  return from ? { mountFrom: from } : {};
}
