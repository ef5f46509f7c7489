/**
 * `type=gha`: the GitHub Actions cache service, protocol v2 — Twirp JSON calls to
 * `$ACTIONS_RESULTS_URL/twirp/github.actions.results.api.v1.CacheService/…` with
 * `ACTIONS_RUNTIME_TOKEN`, and blob bytes to and from the Azure blob SAS URLs the service
 * hands out (as @actions/cache v4 does).
 *
 * Cache entries are immutable, so:
 * - every blob is an entry of its own, keyed by digest (`tbuild-blob-1-sha256:…`): a
 *   layer already in the cache is found and not uploaded again;
 * - the cache config is written under a new key per export
 *   (`tbuild-index-1-SCOPE-<time>-<random>`), after every blob it names, and read through
 *   the `tbuild-index-1-SCOPE-` prefix, which the service answers with the newest entry.
 *   Parallel writers to one scope never see a half-written index: the last one to finish
 *   wins (ADR 11).
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { request as undiciRequest } from 'undici';

/** undici loads with the first call: a build without a gha cache never needs it. */
const request: typeof undiciRequest = async (...args) => (await import('undici')).request(...args);
import type { Digest } from '../../shared/digest.ts';
import { sha256 } from '../../shared/digest.ts';
import { TbuildError } from '../../shared/errors.ts';
import { InvalidCacheError } from '../errors.ts';
import type { CacheConfig, CacheSource, CacheTarget, LoadedCache } from '../types.ts';

const SERVICE = 'github.actions.results.api.v1.CacheService';
/** Entries are found by (key, version); tbuild's are apart from other tools'. */
const VERSION = sha256('tbuild gha cache v1').slice('sha256:'.length);

export interface GhaOptions {
  /** ACTIONS_RESULTS_URL (`url_v2=`). */
  url: string;
  /** ACTIONS_RUNTIME_TOKEN (`token=`). */
  token: string;
  scope: string;
  /** Per request, in ms (`timeout=`, default 10 minutes). */
  timeoutMs: number;
}

/** The GitHub Actions cache service could not do what was asked. */
export class GhaCacheError extends TbuildError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('TBUILD_CACHE_GHA', message, {
      ...options,
      hint: 'type=gha needs ACTIONS_RESULTS_URL and ACTIONS_RUNTIME_TOKEN, which a GitHub Actions job has (the tbuild Action passes them on).',
    });
  }
}

export function ghaCacheSource(options: GhaOptions): CacheSource {
  const service = createService(options);
  const name = `gha scope=${options.scope}`;
  return {
    async load(signal) {
      const prefix = indexPrefix(options.scope);
      const found = await service.downloadUrl(prefix, [prefix], signal);
      if (!found) return undefined;
      const bytes = await service.download(found, signal);
      let config: CacheConfig;
      try {
        config = JSON.parse(bytes.toString('utf8')) as CacheConfig;
      } catch {
        throw new InvalidCacheError(name, 'the cache config is not JSON');
      }
      const cache: LoadedCache = {
        name,
        config,
        async fetchBlob(descriptor, fetchSignal) {
          const url = await service.downloadUrl(blobKey(descriptor.digest), [], fetchSignal);
          if (!url)
            throw new GhaCacheError(`${name}: blob ${descriptor.digest} is not in the cache`);
          return service.open(url, fetchSignal);
        },
      };
      return cache;
    },
  };
}

export function ghaCacheTarget(options: GhaOptions): CacheTarget {
  const service = createService(options);
  return {
    async write(cache, signal, report) {
      let uploaded = 0;
      let present = 0;
      // A few at a time: each is one service call and one blob PUT.
      const queue = [...cache.blobs];
      const worker = async () => {
        for (let blob = queue.shift(); blob; blob = queue.shift()) {
          const key = blobKey(blob.digest);
          if (await service.downloadUrl(key, [], signal)) {
            present++;
            continue;
          }
          const digest = blob.digest;
          if (await service.upload(key, blob.size, () => cache.openBlob(digest), signal))
            uploaded++;
          else present++; // another writer created it meanwhile
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      report(`${uploaded} layers uploaded, ${present} already there`);
      const bytes = Buffer.from(JSON.stringify(cache.config));
      const key = `${indexPrefix(options.scope)}${Date.now()}-${randomBytes(4).toString('hex')}`;
      await service.upload(key, bytes.length, () => Readable.from([bytes]), signal);
      return { ref: `gha:${options.scope}` };
    },
  };
}

function indexPrefix(scope: string): string {
  return `tbuild-index-1-${scope}-`;
}

function blobKey(digest: Digest): string {
  return `tbuild-blob-1-${digest}`;
}

interface Service {
  /** The SAS URL of the entry `key` (or the newest matching a restore prefix), if any. */
  downloadUrl(key: string, restoreKeys: string[], signal: AbortSignal): Promise<string | undefined>;
  download(url: string, signal: AbortSignal): Promise<Buffer>;
  open(url: string, signal: AbortSignal): Promise<Readable>;
  /** Create, upload and finalize an entry; false when it exists already. */
  upload(key: string, size: number, open: () => Readable, signal: AbortSignal): Promise<boolean>;
}

function createService(options: GhaOptions): Service {
  const base = options.url.endsWith('/') ? options.url : `${options.url}/`;
  const call = async <T>(method: string, body: object, signal: AbortSignal) => {
    const res = await request(new URL(`twirp/${SERVICE}/${method}`, base), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${options.token}`,
      },
      body: JSON.stringify(body),
      signal: AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs)]),
    });
    const text = await res.body.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // An error page: reported below with the status.
    }
    return { status: res.statusCode, json: json as T & { code?: string; msg?: string } };
  };
  const blobRequest = (url: string, init: Parameters<typeof request>[1], signal: AbortSignal) =>
    request(url, {
      ...init,
      signal: AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs)]),
    });

  return {
    async downloadUrl(key, restoreKeys, signal) {
      const { status, json } = await call<{
        ok?: boolean;
        signedDownloadUrl?: string;
        signed_download_url?: string;
      }>('GetCacheEntryDownloadURL', { key, restoreKeys, version: VERSION }, signal);
      if (status === 404 || (status === 200 && json.ok === false)) return undefined;
      if (status !== 200)
        throw new GhaCacheError(`GetCacheEntryDownloadURL ${key}: ${status} ${json.msg ?? ''}`);
      return json.signedDownloadUrl ?? json.signed_download_url;
    },
    async download(url, signal) {
      const res = await blobRequest(url, { method: 'GET' }, signal);
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new GhaCacheError(`downloading a cache entry: HTTP ${res.statusCode}`);
      }
      return Buffer.from(await res.body.arrayBuffer());
    },
    async open(url, signal) {
      const res = await blobRequest(url, { method: 'GET' }, signal);
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new GhaCacheError(`downloading a cache blob: HTTP ${res.statusCode}`);
      }
      return res.body;
    },
    async upload(key, size, open, signal) {
      const created = await call<{
        ok?: boolean;
        signedUploadUrl?: string;
        signed_upload_url?: string;
      }>('CreateCacheEntry', { key, version: VERSION }, signal);
      if (created.status === 409 || (created.status === 200 && created.json.ok === false))
        return false;
      const url = created.json.signedUploadUrl ?? created.json.signed_upload_url;
      if (created.status !== 200 || !url)
        throw new GhaCacheError(
          `CreateCacheEntry ${key}: ${created.status} ${created.json.msg ?? ''}`,
        );
      const put = await blobRequest(
        url,
        {
          method: 'PUT',
          headers: {
            'x-ms-blob-type': 'BlockBlob',
            'content-length': String(size),
            'content-type': 'application/octet-stream',
          },
          body: open(),
        },
        signal,
      );
      await put.body.dump();
      if (put.statusCode !== 201)
        throw new GhaCacheError(
          `uploading ${key} to the cache's blob storage: HTTP ${put.statusCode}`,
        );
      const done = await call<{ ok?: boolean }>(
        'FinalizeCacheEntryUpload',
        { key, version: VERSION, sizeBytes: String(size) },
        signal,
      );
      if (done.status !== 200 || done.json.ok === false)
        throw new GhaCacheError(
          `FinalizeCacheEntryUpload ${key}: ${done.status} ${done.json.msg ?? ''}`,
        );
      return true;
    },
  };
}
