/**
 * A multi-platform build's result in the store: each platform's image (committed as a
 * single-platform build commits it), then one image index listing their manifests with
 * their platforms. The index takes the manifests' media types: a Docker manifest list over
 * Docker manifests, an OCI index over OCI ones (as BuildKit writes them).
 */
import type { Store } from '../cache/types.ts';
import type { Digest } from '../shared/digest.ts';
import { MediaType, type Descriptor, type Index } from '../shared/oci.ts';
import type { Platform } from '../shared/platform.ts';
import type { CommittedImage } from './commit-image.ts';

export interface PlatformImage {
  platform: Platform;
  image: CommittedImage;
}

export interface CommittedIndex {
  descriptor: Descriptor;
  bytes: Buffer;
  /** In the order of the index's manifests (the order the platforms were asked for). */
  images: PlatformImage[];
}

/** Write the index over `images` to the blob store. */
export async function commitIndex(
  store: Store,
  images: readonly PlatformImage[],
): Promise<CommittedIndex> {
  const oci = images.every((i) => i.image.manifest.descriptor.mediaType === MediaType.OciManifest);
  const mediaType = oci ? MediaType.OciIndex : MediaType.DockerManifestList;
  const index: Index = {
    schemaVersion: 2,
    mediaType,
    manifests: images.map(({ platform, image }) => ({
      mediaType: image.manifest.descriptor.mediaType,
      digest: image.manifest.descriptor.digest,
      size: image.manifest.descriptor.size,
      platform: { ...platform },
    })),
  };
  const bytes = Buffer.from(JSON.stringify(index));
  const info = await store.blobs.put(bytes);
  return {
    descriptor: { mediaType, digest: info.digest as Digest, size: info.size },
    bytes,
    images: [...images],
  };
}

/** Whether a manifest's media type is an index (OCI) or a manifest list (Docker). */
export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.OciIndex || mediaType === MediaType.DockerManifestList;
}
