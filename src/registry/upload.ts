/**
 * Blob upload (distribution spec "pushing blobs"): skip a blob the repository has (HEAD),
 * try a cross-repository mount, else open an upload session and send the bytes in one
 * PUT (small blobs) or in PATCH chunks with Content-Range and a closing PUT (large
 * ones). An interrupted upload asks the registry how far it got and resumes there, or
 * starts a fresh session when the old one is gone.
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Digest } from '../shared/digest.ts';
import { repositoryScope } from './auth.ts';
import { RegistryRequestError } from './errors.ts';
import type { CallContext, Caller } from './http-call.ts';
import { repositoryName } from './reference.ts';
import type { ImageReference } from './reference.ts';
import { isTransientNetworkError, retryDelayMs } from './transport.ts';
import type { RegistryClientOptions, UploadOutcome } from './types.ts';
import { createByteCounter } from './verify.ts';

const DEFAULT_THRESHOLD = 64 * 1024 * 1024;
const DEFAULT_CHUNK = 16 * 1024 * 1024;

/** A PATCH/PUT failure worth another try; `restart` when the session itself is unusable. */
class UploadInterrupted extends RegistryRequestError {
  readonly restart: boolean;
  constructor(message: string, status: number, restart: boolean) {
    super(message, status);
    this.restart = restart;
  }
}

interface Session {
  caller: Caller;
  ctx: CallContext;
  blobsUrl: string;
  digest: Digest;
  size: number;
  open: () => Readable;
  options: RegistryClientOptions;
  signal: AbortSignal | undefined;
}

/** Push one blob; resolves to how it got there. */
export async function uploadBlob(
  caller: Caller,
  options: RegistryClientOptions,
  ref: ImageReference,
  digest: Digest,
  size: number,
  open: () => Readable,
  extra: { mountFrom?: ImageReference; signal?: AbortSignal },
): Promise<UploadOutcome> {
  const ctx: CallContext = {
    registry: ref.registry,
    scopes: [repositoryScope(ref.repository, ['pull', 'push'])],
    image: repositoryName(ref),
    what: `upload of blob ${digest}`,
  };
  const s: Session = {
    caller,
    ctx,
    blobsUrl: `${caller.apiBase(ref.registry)}/${ref.repository}/blobs`,
    digest,
    size,
    open,
    options,
    signal: extra.signal,
  };
  if (await blobPresent(s)) return 'exists';
  const from = extra.mountFrom;
  let location: string | undefined;
  if (from && from.registry === ref.registry && from.repository !== ref.repository) {
    const mounted = await tryMount(s, from.repository);
    if (mounted === true) return 'mounted';
    location = mounted;
  }
  location ??= await startSession(s);
  return sendWithResume(s, location);
}

async function sendWithResume(s: Session, firstLocation: string): Promise<UploadOutcome> {
  const threshold = s.options.chunkedUploadThreshold ?? DEFAULT_THRESHOLD;
  const retries = s.options.retries ?? 3;
  let location = firstLocation;
  let offset = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      if (s.size <= threshold) await putWhole(s, location);
      else await putChunks(s, location, offset);
      return 'uploaded';
    } catch (error) {
      const retryable = error instanceof UploadInterrupted || isTransientNetworkError(error);
      if (!retryable || attempt >= retries) throw error;
      await sleep(retryDelayMs(attempt, s.options.retryBaseDelayMs ?? 250), undefined, {
        signal: s.signal,
      });
      // The final PUT may have landed even though its answer was lost.
      if (await blobPresent(s)) return 'uploaded';
      const status =
        error instanceof UploadInterrupted && error.restart
          ? undefined
          : await queryStatus(s, location);
      if (status === undefined || (s.size <= threshold && status.offset > 0)) {
        location = await startSession(s);
        offset = 0;
      } else {
        location = status.location;
        offset = status.offset;
      }
    }
  }
}

async function blobPresent(s: Session): Promise<boolean> {
  const res = await s.caller.call(s.ctx, {
    method: 'HEAD',
    url: `${s.blobsUrl}/${s.digest}`,
    followRedirects: true,
  });
  await res.body.dump();
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw await s.caller.fail(s.ctx, res);
}

/** true when mounted; else the upload session the registry opened instead (or undefined). */
async function tryMount(s: Session, fromRepository: string): Promise<true | string | undefined> {
  const ctx = { ...s.ctx, scopes: [...s.ctx.scopes, repositoryScope(fromRepository, ['pull'])] };
  const query = new URLSearchParams({ mount: s.digest, from: fromRepository });
  const res = await s.caller.call(ctx, {
    method: 'POST',
    url: `${s.blobsUrl}/uploads/?${query.toString()}`,
    headers: { 'content-length': '0' },
  });
  if (res.status === 201) {
    await res.body.dump();
    return true;
  }
  if (res.status === 202 && res.headers.location) {
    await res.body.dump();
    return resolveLocation(s, res.headers.location);
  }
  // A refused mount is not fatal: a plain upload may still be allowed.
  await res.body.dump();
  return undefined;
}

async function startSession(s: Session): Promise<string> {
  const res = await s.caller.call(s.ctx, {
    method: 'POST',
    url: `${s.blobsUrl}/uploads/`,
    headers: { 'content-length': '0' },
  });
  if (res.status !== 202 || !res.headers.location) throw await s.caller.fail(s.ctx, res);
  await res.body.dump();
  return resolveLocation(s, res.headers.location);
}

/** GET on the session: `Range: 0-<last byte>` says how much the registry holds. */
async function queryStatus(
  s: Session,
  location: string,
): Promise<{ location: string; offset: number } | undefined> {
  const res = await s.caller.call(s.ctx, { method: 'GET', url: location });
  await res.body.dump();
  if (res.status !== 204 && res.status !== 200) return undefined;
  const end = Number(/^(?:bytes=)?0-(\d+)$/.exec(res.headers.range ?? '')?.[1] ?? -1);
  // distribution says `0-0` for both 0 and 1 bytes; resend from 0 (a 416 then restarts).
  return {
    location: resolveLocation(s, res.headers.location ?? location),
    offset: end > 0 ? end + 1 : 0,
  };
}

async function putWhole(s: Session, location: string): Promise<void> {
  const report = s.options.onProgress;
  const body = (): Readable => {
    const source = s.open();
    if (!report) return source;
    const counter = createByteCounter('push', s.ctx.image, s.digest, s.size, report);
    return pipeline(source, counter, () => undefined);
  };
  const res = await s.caller.call(s.ctx, {
    method: 'PUT',
    url: withDigest(location, s.digest),
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(s.size) },
    body,
    retry: false,
    ...(s.signal ? { signal: s.signal } : {}),
  });
  await expectStatus(s, res, 201);
}

async function putChunks(s: Session, firstLocation: string, offset: number): Promise<void> {
  const chunkSize = s.options.chunkSize ?? DEFAULT_CHUNK;
  let location = firstLocation;
  let position = offset;
  for await (const chunk of readChunks(s.open(), offset, chunkSize)) {
    const res = await s.caller.call(s.ctx, {
      method: 'PATCH',
      url: location,
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(chunk.length),
        'content-range': `${position}-${position + chunk.length - 1}`,
      },
      body: () => chunk,
      retry: false,
      ...(s.signal ? { signal: s.signal } : {}),
    });
    await expectStatus(s, res, 202);
    location = resolveLocation(s, res.headers.location ?? location);
    position += chunk.length;
    s.options.onProgress?.({
      action: 'push',
      repository: s.ctx.image,
      digest: s.digest,
      current: position,
      total: s.size,
    });
  }
  const res = await s.caller.call(s.ctx, {
    method: 'PUT',
    url: withDigest(location, s.digest),
    headers: { 'content-length': '0' },
    retry: false,
  });
  await expectStatus(s, res, 201);
}

async function expectStatus(
  s: Session,
  res: Awaited<ReturnType<Caller['call']>>,
  ok: number,
): Promise<void> {
  if (res.status === ok) {
    await res.body.dump();
    return;
  }
  if (res.status >= 500 || res.status === 416 || res.status === 404 || res.status === 429) {
    await res.body.dump();
    const restart = res.status === 416 || res.status === 404;
    throw new UploadInterrupted(
      `${s.ctx.what} to ${s.ctx.image} interrupted: HTTP ${res.status}`,
      res.status,
      restart,
    );
  }
  throw await s.caller.fail(s.ctx, res);
}

/** Exactly `size`-byte buffers (the last may be shorter), after skipping `skip` bytes. */
async function* readChunks(source: Readable, skip: number, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingLength = 0;
  let toSkip = skip;
  try {
    for await (const raw of source) {
      let chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
      if (toSkip > 0) {
        if (chunk.length <= toSkip) {
          toSkip -= chunk.length;
          continue;
        }
        chunk = chunk.subarray(toSkip);
        toSkip = 0;
      }
      pending.push(chunk);
      pendingLength += chunk.length;
      while (pendingLength >= size) {
        const all = Buffer.concat(pending);
        yield all.subarray(0, size);
        pending = [all.subarray(size)];
        pendingLength = all.length - size;
      }
    }
    if (pendingLength > 0) yield Buffer.concat(pending);
  } finally {
    source.destroy();
  }
}

function resolveLocation(s: Session, location: string): string {
  return new URL(location, s.blobsUrl).toString();
}

function withDigest(location: string, digest: Digest): string {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url.toString();
}
