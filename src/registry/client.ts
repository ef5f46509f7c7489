/**
 * The distribution-spec client: manifests (with platform selection from indexes),
 * verified blob downloads, uploads (upload.ts), and login checks.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { sha256 } from '../shared/digest.ts';
import type { Digest } from '../shared/digest.ts';
import { MediaType } from '../shared/oci.ts';
import type { ImageConfig, Index, Manifest } from '../shared/oci.ts';
import { formatPlatform, hostPlatform } from '../shared/platform.ts';
import { createAuthenticator, repositoryScope } from './auth.ts';
import type { Credentials } from './credentials.ts';
import { guardedChunks, readBounded, RESPONSE_LIMITS } from './body.ts';
import {
  DigestMismatchError,
  PlatformNotFoundError,
  RegistryProtocolError,
  RegistryResponseTooLargeError,
} from './errors.ts';
import { createCaller } from './http-call.ts';
import type { CallContext } from './http-call.ts';
import { listPlatforms, selectPlatformManifest } from './platform-select.ts';
import { formatReference, parseReference, repositoryName } from './reference.ts';
import type { ImageReference } from './reference.ts';
import { createTransport, isTransientNetworkError, retryDelayMs } from './transport.ts';
import type { HttpResponse } from './transport.ts';
import type {
  ManifestResult,
  ReferenceInput,
  RegistryClient,
  RegistryClientOptions,
  ResolvedImage,
} from './types.ts';
import { uploadBlob } from './upload.ts';

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
  const retries = options.retries ?? 3;
  const baseDelay = options.retryBaseDelayMs ?? 250;

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
    const { body, headers } = await transport.retrying(async () => {
      const res = await caller.call(ctx, {
        method: 'GET',
        url: manifestUrl(ref, ref.digest ?? ref.tag ?? 'latest'),
        headers: { accept: accept.join(', ') },
        ...(signal ? { signal } : {}),
      });
      if (res.status !== 200) throw await caller.fail(ctx, res);
      const bytes = await readBounded(res, {
        what: `manifest of ${ctx.image}`,
        registry: ref.registry,
        limit: RESPONSE_LIMITS.manifest,
        floor: transport.speedFloor,
      });
      return { body: bytes, headers: res.headers };
    }, signal);
    return parseManifestResponse(
      ref,
      body,
      headers['content-type'],
      headers['docker-content-digest'],
    );
  };

  /**
   * A blob's bytes, verified while they stream: the last chunk is held back until the
   * whole blob hashes right, so a consumer never receives a complete wrong blob. A body
   * that fails on the way (reset, too slow) resumes with a Range request, up to the
   * transport's retries. Errors surface only through reading, never as stray events.
   */
  async function* blobChunks(
    ref: ImageReference,
    digest: Digest,
    opts: { size?: number; signal?: AbortSignal },
    first: HttpResponse,
  ): AsyncGenerator<Buffer> {
    const what = `blob ${digest} of ${repositoryName(ref)}`;
    const hash = createHash('sha256');
    const limit = opts.size;
    const announced = Number(first.headers['content-length']);
    const total = limit ?? (Number.isFinite(announced) ? announced : undefined);
    let received = 0;
    let held: Buffer | undefined;
    let res: HttpResponse | undefined = first;
    for (let attempt = 0; ; attempt++) {
      try {
        if (!res) res = await blobRequest(ref, digest, received, opts.signal);
        let skip = res.status === 206 ? 0 : received;
        const guard = { what, registry: ref.registry, floor: transport.speedFloor };
        const chunks = guardedChunks(res.body, undefined, guard);
        res = undefined;
        for await (let chunk of chunks) {
          if (skip > 0) {
            const dropped = Math.min(skip, chunk.length);
            skip -= dropped;
            chunk = chunk.subarray(dropped);
            if (chunk.length === 0) continue;
          }
          received += chunk.length;
          if (limit !== undefined && received > limit)
            throw new DigestMismatchError(
              `${what} is larger than announced`,
              `${limit} bytes`,
              `more than ${limit}`,
            );
          hash.update(chunk);
          if (held) yield held;
          held = chunk;
          if (progress)
            progress({
              action: 'pull',
              repository: repositoryName(ref),
              digest,
              current: received,
              total,
            });
        }
        break;
      } catch (error) {
        if (attempt >= retries || !isTransientNetworkError(error)) throw error;
        await sleep(retryDelayMs(attempt, baseDelay), undefined, { signal: opts.signal });
      }
    }
    if (limit !== undefined && received !== limit)
      throw new DigestMismatchError(`${what} size mismatch`, `${limit} bytes`, `${received} bytes`);
    const actual: Digest = `sha256:${hash.digest('hex')}`;
    if (actual !== digest) throw new DigestMismatchError(`${what} digest mismatch`, digest, actual);
    if (held) yield held;
  }

  const blobRequest = async (
    ref: ImageReference,
    digest: Digest,
    offset: number,
    signal: AbortSignal | undefined,
  ): Promise<HttpResponse> => {
    const ctx = pullContext(ref, `blob ${digest}`);
    const res = await caller.call(ctx, {
      method: 'GET',
      url: `${caller.apiBase(ref.registry)}/${ref.repository}/blobs/${digest}`,
      followRedirects: true,
      ...(offset > 0 ? { headers: { range: `bytes=${offset}-` } } : {}),
      ...(signal ? { signal } : {}),
    });
    if (res.status !== 200 && !(offset > 0 && res.status === 206))
      throw await caller.fail(ctx, res);
    return res;
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
      const configSize = result.manifest.config.size;
      if (!(configSize <= RESPONSE_LIMITS.config)) {
        throw new RegistryResponseTooLargeError(
          `image config ${configDigest} of ${formatReference(ref)}`,
          ref.registry,
          RESPONSE_LIMITS.config,
          configSize,
        );
      }
      const stream = await client.fetchBlob(ref, configDigest, { size: configSize });
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      const configBody = Buffer.concat(chunks);
      const config = JSON.parse(configBody.toString('utf8')) as ImageConfig;
      return { ...result, manifest: result.manifest, config, configBody };
    },
    async fetchBlob(input, digest, opts = {}) {
      const ref = toRef(input);
      const first = await blobRequest(ref, digest, 0, opts.signal);
      return Readable.from(blobChunks(ref, digest, opts, first), { objectMode: false });
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
