/**
 * The manifest a cache is stored under, in a registry or a local OCI layout, as BuildKit
 * writes it:
 * - `image-manifest=true` (BuildKit's default since v0.21): an OCI image manifest whose
 *   config is the cache config and whose layers are the cache's blobs; registries that
 *   only take image manifests accept it.
 * - `image-manifest=false`: an index listing the blobs and the cache config.
 */
import type { Digest } from '../shared/digest.ts';
import { sha256 } from '../shared/digest.ts';
import { MediaType, type Descriptor } from '../shared/oci.ts';
import { InvalidCacheError } from './errors.ts';
import { CacheConfigMediaType, type CacheExport } from './types.ts';

export interface CacheManifestOptions {
  imageManifest: boolean;
  ociMediaTypes: boolean;
}

export interface EncodedCacheManifest {
  config: { descriptor: Descriptor; bytes: Buffer };
  manifest: { descriptor: Descriptor; bytes: Buffer };
}

/** The cache config blob and the manifest that names it and every layer blob. */
export function encodeCacheManifest(
  cache: CacheExport,
  options: CacheManifestOptions,
): EncodedCacheManifest {
  const configBytes = Buffer.from(JSON.stringify(cache.config));
  const config: Descriptor = {
    mediaType: CacheConfigMediaType,
    digest: sha256(configBytes),
    size: configBytes.length,
  };
  const layers = cache.blobs.map((b) => ({
    mediaType: b.mediaType,
    digest: b.digest,
    size: b.size,
  }));
  const body = options.imageManifest
    ? { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers }
    : {
        schemaVersion: 2,
        mediaType: options.ociMediaTypes ? MediaType.OciIndex : MediaType.DockerManifestList,
        manifests: [...layers, config],
      };
  const bytes = Buffer.from(JSON.stringify(body));
  return {
    config: { descriptor: config, bytes: configBytes },
    manifest: {
      descriptor: { mediaType: body.mediaType, digest: sha256(bytes), size: bytes.length },
      bytes,
    },
  };
}

/** The cache config's descriptor and the blobs a cache manifest (either form) names. */
export function decodeCacheManifest(
  body: Buffer,
  from: string,
): { config: Descriptor; blobs: Descriptor[] } {
  let parsed: { config?: Descriptor; layers?: Descriptor[]; manifests?: Descriptor[] };
  try {
    parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
  } catch {
    throw new InvalidCacheError(from, 'the cache manifest is not JSON');
  }
  if (parsed.config?.mediaType === CacheConfigMediaType)
    return { config: parsed.config, blobs: parsed.layers ?? [] };
  const listed = parsed.manifests ?? [];
  const config = listed.find((d) => d.mediaType === CacheConfigMediaType);
  if (!config)
    throw new InvalidCacheError(
      from,
      `no ${CacheConfigMediaType} in it: this is not a cache (an image? use type=inline for the cache inside an image)`,
    );
  return { config, blobs: listed.filter((d) => d !== config) };
}

/** Blobs by digest, for fetching what a cache config names. */
export function blobsByDigest(blobs: readonly Descriptor[]): Map<Digest, Descriptor> {
  return new Map(blobs.map((b) => [b.digest, b]));
}
