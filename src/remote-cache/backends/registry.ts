/**
 * `type=registry` (and the import side of `type=inline`): a cache stored under a
 * registry reference. Import reads a cache manifest there, or, when the reference is an
 * image, the cache inside its config (BuildKit's inline cache).
 */
import { Readable } from 'node:stream';
import type { RegistryClient } from '../../registry/types.ts';
import type { Digest } from '../../shared/digest.ts';
import { MediaType, type ImageConfig, type Manifest } from '../../shared/oci.ts';
import type { Platform } from '../../shared/platform.ts';
import {
  decodeCacheManifest,
  encodeCacheManifest,
  type CacheManifestOptions,
} from '../cache-manifest.ts';
import { InvalidCacheError } from '../errors.ts';
import {
  CacheConfigMediaType,
  InlineCacheKey,
  type CacheConfig,
  type CacheSource,
  type CacheTarget,
  type LoadedCache,
} from '../types.ts';

/** `--cache-from type=registry,ref=REF` (or a bare `--cache-from REF`). */
export function registryCacheSource(
  registry: () => Promise<RegistryClient>,
  ref: string,
  platform: Platform,
): CacheSource {
  const name = `registry ${ref}`;
  return {
    async load(signal) {
      const client = await registry();
      const found = await client.getManifest(ref, { signal });
      let config: CacheConfig;
      if (found.index && !found.index.manifests.some((m) => m.mediaType === CacheConfigMediaType)) {
        // An image index: the inline cache of this platform's image.
        const image = await client.getManifest(ref, { signal, platform });
        config = await inlineConfigOf(client, ref, image.manifest, name, signal);
      } else if (found.manifest && found.manifest.config.mediaType !== CacheConfigMediaType) {
        config = await inlineConfigOf(client, ref, found.manifest, name, signal);
      } else {
        const { config: descriptor } = decodeCacheManifest(found.body, name);
        config = parseJson(
          await readBlob(client, ref, descriptor.digest, descriptor.size, signal),
          name,
        );
      }
      const cache: LoadedCache = {
        name,
        config,
        registryRepo: ref,
        fetchBlob: (descriptor, fetchSignal) =>
          client.fetchBlob(ref, descriptor.digest, { size: descriptor.size, signal: fetchSignal }),
      };
      return cache;
    },
  };
}

/** `--cache-to type=registry,ref=REF`: blobs the registry lacks, the config, the manifest. */
export function registryCacheTarget(
  registry: () => Promise<RegistryClient>,
  ref: string,
  manifestOptions: CacheManifestOptions,
  mountFrom?: string,
): CacheTarget {
  return {
    async write(cache, signal, report) {
      const client = await registry();
      const encoded = encodeCacheManifest(cache, manifestOptions);
      const counts = { uploaded: 0, mounted: 0, exists: 0 };
      const mountOf = (digest: Digest) => {
        const from = mountFrom ?? cache.mountFrom?.(digest);
        return from ? { mountFrom: from } : {};
      };
      await Promise.all(
        cache.blobs.map(async (blob) => {
          const outcome = await client.uploadBlob(
            ref,
            blob.digest,
            blob.size,
            () => cache.openBlob(blob.digest),
            { signal, ...mountOf(blob.digest) },
          );
          counts[outcome]++;
        }),
      );
      await client.uploadBlob(
        ref,
        encoded.config.descriptor.digest,
        encoded.config.descriptor.size,
        () => Readable.from([encoded.config.bytes]),
        { signal },
      );
      report(
        `${counts.uploaded} layers uploaded, ${counts.mounted} mounted, ${counts.exists} already there`,
      );
      await client.putManifest(ref, encoded.manifest.bytes, encoded.manifest.descriptor.mediaType);
      return { ref };
    },
  };
}

async function inlineConfigOf(
  client: RegistryClient,
  ref: string,
  manifest: Manifest | undefined,
  name: string,
  signal: AbortSignal,
): Promise<CacheConfig> {
  if (
    !manifest ||
    ![MediaType.OciConfig, MediaType.DockerConfig].includes(manifest.config.mediaType as never)
  )
    throw new InvalidCacheError(name, 'it is neither a cache nor an image');
  const image = parseJson<ImageConfig & Record<string, unknown>>(
    await readBlob(client, ref, manifest.config.digest, manifest.config.size, signal),
    name,
  );
  const inline = image[InlineCacheKey];
  if (typeof inline !== 'string')
    throw new InvalidCacheError(name, 'the image carries no inline cache', {
      hint: 'Build and push it with --cache-to type=inline (or export a cache with --cache-to type=registry,ref=…).',
    });
  return parseJson(Buffer.from(inline, 'base64'), name);
}

async function readBlob(
  client: RegistryClient,
  ref: string,
  digest: Digest,
  size: number,
  signal: AbortSignal,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await client.fetchBlob(ref, digest, { size, signal }))
    chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function parseJson<T = CacheConfig>(bytes: Buffer, name: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch {
    throw new InvalidCacheError(name, 'the cache config is not JSON');
  }
}
