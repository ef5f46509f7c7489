/**
 * The distribution-spec client: manifests (with platform selection from indexes),
 * verified blob downloads, uploads (upload.ts), and login checks.
 */
import { pipeline } from 'node:stream';
import { sha256 } from '../shared/digest.ts';
import type { Digest } from '../shared/digest.ts';
import { MediaType } from '../shared/oci.ts';
import type { ImageConfig, Index, Manifest } from '../shared/oci.ts';
import { formatPlatform, hostPlatform } from '../shared/platform.ts';
import { createAuthenticator, repositoryScope } from './auth.ts';
import type { Credentials } from './credentials.ts';
import { DigestMismatchError, PlatformNotFoundError, RegistryProtocolError } from './errors.ts';
import { createCaller } from './http-call.ts';
import type { CallContext } from './http-call.ts';
import { listPlatforms, selectPlatformManifest } from './platform-select.ts';
import { formatReference, parseReference, repositoryName } from './reference.ts';
import type { ImageReference } from './reference.ts';
import { createTransport } from './transport.ts';
import type {
  ManifestResult,
  ReferenceInput,
  RegistryClient,
  RegistryClientOptions,
  ResolvedImage,
} from './types.ts';
import { uploadBlob } from './upload.ts';
import { createByteCounter, createVerifyStream } from './verify.ts';

/** Everything a registry may answer a manifest GET with, most preferred first. */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
] as const;

const INDEX_TYPES: ReadonlySet<string> = new Set([
  MediaType.OciIndex,
  MediaType.DockerManifestList,
]);

function toRef(input: ReferenceInput): ImageReference {
  return typeof input === 'string' ? parseReference(input) : input;
}

/** Create a client; call close() when done to release its connections. */
export function createRegistryClient(options: RegistryClientOptions = {}): RegistryClient {
  const transport = createTransport(options);
  const overrides = new Map<string, Credentials>();
  const auth = createAuthenticator(transport, options.credentials, overrides);
  const caller = createCaller(transport, auth);
  const progress = options.onProgress;

  const pullContext = (ref: ImageReference, what: string): CallContext => ({
    registry: ref.registry,
    scopes: [repositoryScope(ref.repository, ['pull'])],
    image: formatReference(ref),
    what,
  });
  const manifestUrl = (ref: ImageReference, reference: string): string =>
    `${caller.apiBase(ref.registry)}/${ref.repository}/manifests/${reference}`;

  const fetchManifest = async (
    ref: ImageReference,
    accept: readonly string[],
    signal?: AbortSignal,
  ) => {
    const ctx = pullContext(ref, 'manifest');
    const res = await caller.call(ctx, {
      method: 'GET',
      url: manifestUrl(ref, ref.digest ?? ref.tag ?? 'latest'),
      headers: { accept: accept.join(', ') },
      ...(signal ? { signal } : {}),
    });
    if (res.status !== 200) throw await caller.fail(ctx, res);
    const body = Buffer.from(await res.body.arrayBuffer());
    return parseManifestResponse(
      ref,
      body,
      res.headers['content-type'],
      res.headers['docker-content-digest'],
    );
  };

  const client: RegistryClient = {
    async getManifest(input, opts = {}) {
      const ref = toRef(input);
      const accept = opts.accept ?? MANIFEST_ACCEPT;
      const result = await fetchManifest(ref, accept, opts.signal);
      if (!result.index || !opts.platform) return result;
      const chosen = selectPlatformManifest(result.index, opts.platform);
      if (!chosen) {
        throw new PlatformNotFoundError(
          formatReference(ref),
          formatPlatform(opts.platform),
          listPlatforms(result.index),
        );
      }
      const child = await fetchManifest(
        { registry: ref.registry, repository: ref.repository, digest: chosen.digest },
        accept,
        opts.signal,
      );
      return { ...child, indexDigest: result.digest };
    },
    async headManifest(input, opts = {}) {
      const ref = toRef(input);
      const ctx = pullContext(ref, 'manifest');
      const res = await caller.call(ctx, {
        method: 'HEAD',
        url: manifestUrl(ref, ref.digest ?? ref.tag ?? 'latest'),
        headers: { accept: (opts.accept ?? MANIFEST_ACCEPT).join(', ') },
      });
      if (res.status !== 200) throw await caller.fail(ctx, res);
      await res.body.dump();
      const digest = res.headers['docker-content-digest'] ?? ref.digest;
      if (!digest) {
        // Some registries omit the digest on HEAD: the body tells us.
        const full = await fetchManifest(ref, opts.accept ?? MANIFEST_ACCEPT);
        return { digest: full.digest, mediaType: full.mediaType, size: full.body.length };
      }
      return {
        digest: digest as Digest,
        mediaType: (res.headers['content-type'] ?? '').split(';')[0]!.trim(),
        size: Number(res.headers['content-length'] ?? 0),
      };
    },
    async resolve(input, platform = hostPlatform()): Promise<ResolvedImage> {
      const ref = toRef(input);
      const result = await client.getManifest(ref, { platform });
      if (!result.manifest) {
        throw new RegistryProtocolError(
          `${formatReference(ref)} did not resolve to an image manifest`,
        );
      }
      const configDigest = result.manifest.config.digest;
      const stream = await client.fetchBlob(ref, configDigest, {
        size: result.manifest.config.size,
      });
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      const configBody = Buffer.concat(chunks);
      const config = JSON.parse(configBody.toString('utf8')) as ImageConfig;
      return { ...result, manifest: result.manifest, config, configBody };
    },
    async fetchBlob(input, digest, opts = {}) {
      const ref = toRef(input);
      const ctx = pullContext(ref, `blob ${digest}`);
      const res = await caller.call(ctx, {
        method: 'GET',
        url: `${caller.apiBase(ref.registry)}/${ref.repository}/blobs/${digest}`,
        followRedirects: true,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      if (res.status !== 200) throw await caller.fail(ctx, res);
      const announced = res.headers['content-length']
        ? Number(res.headers['content-length'])
        : undefined;
      const total = opts.size ?? announced;
      const verify = createVerifyStream(
        `blob ${digest} of ${repositoryName(ref)}`,
        digest,
        opts.size,
      );
      const counted = progress
        ? createByteCounter('pull', repositoryName(ref), digest, total, progress)
        : undefined;
      // Errors of any stage surface on the last stream, which is what the caller reads.
      return counted
        ? pipeline(res.body, counted, verify, () => undefined)
        : pipeline(res.body, verify, () => undefined);
    },
    async blobExists(input, digest) {
      const ref = toRef(input);
      const ctx = pullContext(ref, `blob ${digest}`);
      const res = await caller.call(ctx, {
        method: 'HEAD',
        url: `${caller.apiBase(ref.registry)}/${ref.repository}/blobs/${digest}`,
        followRedirects: true,
      });
      await res.body.dump();
      if (res.status === 200) return true;
      if (res.status === 404) return false;
      throw await caller.fail(ctx, res);
    },
    async uploadBlob(input, digest, size, open, opts = {}) {
      return uploadBlob(caller, options, toRef(input), digest, size, open, {
        ...(opts.mountFrom ? { mountFrom: toRef(opts.mountFrom) } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    },
    async putManifest(input, body, mediaType) {
      const ref = toRef(input);
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      const digest = sha256(bytes);
      const ctx: CallContext = {
        registry: ref.registry,
        scopes: [repositoryScope(ref.repository, ['pull', 'push'])],
        image: formatReference(ref),
        what: 'manifest push',
      };
      const res = await caller.call(ctx, {
        method: 'PUT',
        url: manifestUrl(ref, ref.tag ?? ref.digest ?? digest),
        headers: { 'content-type': mediaType },
        body: () => bytes,
      });
      if (res.status !== 201 && res.status !== 200) throw await caller.fail(ctx, res);
      await res.body.dump();
      return digest;
    },
    async putIndex(input, index) {
      const mediaType = index.mediaType ?? MediaType.OciIndex;
      return client.putManifest(input, JSON.stringify({ ...index, mediaType }), mediaType);
    },
    async checkLogin(registry, credentials) {
      overrides.set(registry, credentials);
      try {
        const ctx: CallContext = { registry, scopes: [], image: registry, what: 'login' };
        const res = await caller.call(ctx, { method: 'GET', url: `${caller.apiBase(registry)}/` });
        if (res.status !== 200) throw await caller.fail(ctx, res);
        await res.body.dump();
      } finally {
        overrides.delete(registry);
      }
    },
    close: () => transport.close(),
  };
  return client;
}

function parseManifestResponse(
  ref: ImageReference,
  body: Buffer,
  contentType: string | undefined,
  headerDigest: string | undefined,
): ManifestResult {
  const digest = sha256(body);
  const image = formatReference(ref);
  if (ref.digest && ref.digest !== digest) {
    throw new DigestMismatchError(`manifest of ${image}`, ref.digest, digest);
  }
  if (headerDigest?.startsWith('sha256:') && headerDigest !== digest) {
    throw new DigestMismatchError(
      `manifest of ${image} (Docker-Content-Digest)`,
      headerDigest,
      digest,
    );
  }
  let parsed: (Manifest | Index) & { mediaType?: string };
  try {
    parsed = JSON.parse(body.toString('utf8')) as Manifest | Index;
  } catch (error) {
    throw new RegistryProtocolError(`manifest of ${image} is not valid JSON`, { cause: error });
  }
  const headerType = contentType?.split(';')[0]?.trim();
  const mediaType =
    parsed.mediaType ??
    (headerType && headerType !== 'application/json' ? headerType : undefined) ??
    ('manifests' in parsed ? MediaType.OciIndex : MediaType.OciManifest);
  if (INDEX_TYPES.has(mediaType) || 'manifests' in parsed) {
    return { digest, mediaType, body, index: parsed as Index };
  }
  if (!('config' in parsed)) {
    throw new RegistryProtocolError(
      `manifest of ${image} has unsupported media type ${mediaType}`,
      {
        hint: 'tbuild supports OCI and Docker schema 2 images; schema 1 images must be re-pushed.',
      },
    );
  }
  return { digest, mediaType, body, manifest: parsed as Manifest };
}
