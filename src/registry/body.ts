/**
 * Reading registry responses within bounds (issue 14, items 5 and 6): a size limit per
 * kind of response, and a speed floor, so that a hostile or broken registry can neither
 * exhaust memory nor keep a pull waiting forever. docs/dev/limits.md lists the figures.
 */
import type { HttpResponse } from './transport.ts';
import { TbuildError } from '../shared/errors.ts';
import {
  RegistryRequestError,
  RegistryResponseTooLargeError,
  RegistryTimeoutError,
} from './errors.ts';

const MiB = 1024 * 1024;

/** Largest responses read into memory, by kind (a manifest's 4 MiB is Moby's limit too). */
export const RESPONSE_LIMITS = {
  manifest: 4 * MiB,
  config: 8 * MiB,
  token: 1 * MiB,
  /** Error bodies are read this far for their message; the rest is dropped. */
  errorBody: 64 * 1024,
} as const;

/** A body must bring at least `minBytes` every `windowMs`, or the transfer is abandoned. */
export interface SpeedFloor {
  minBytes: number;
  windowMs: number;
}

export const DEFAULT_SPEED_FLOOR: SpeedFloor = { minBytes: 1024, windowMs: 30_000 };

export interface BodyGuard {
  /** What is being read, for messages: `manifest of localhost:5000/app:1`. */
  what: string;
  /** The registry's name, for messages. */
  registry: string;
  /** Most bytes accepted; more is RegistryResponseTooLargeError. */
  limit?: number;
  floor: SpeedFloor;
}

type Body = HttpResponse['body'];

/**
 * The body's chunks, failing with RegistryResponseTooLargeError past `limit` (checked
 * against Content-Length first) and with RegistryTimeoutError when a window of the speed
 * floor brings fewer than its bytes. A stalled body ends at undici's bodyTimeout, which
 * the transport sets to the floor's window. The body is destroyed on any failure.
 */
export async function* guardedChunks(
  body: Body,
  contentLength: string | undefined,
  guard: BodyGuard,
): AsyncGenerator<Buffer> {
  const { limit, floor } = guard;
  const announced = contentLength === undefined ? NaN : Number(contentLength);
  if (limit !== undefined && announced > limit) {
    body.destroy();
    throw new RegistryResponseTooLargeError(guard.what, guard.registry, limit, announced);
  }
  let total = 0;
  let windowStart = Date.now();
  let windowBytes = 0;
  try {
    for await (const raw of body) {
      const chunk = raw as Buffer;
      total += chunk.length;
      if (limit !== undefined && total > limit)
        throw new RegistryResponseTooLargeError(guard.what, guard.registry, limit);
      windowBytes += chunk.length;
      const now = Date.now();
      if (now - windowStart >= floor.windowMs) {
        if (windowBytes < floor.minBytes) throw slowError(guard, windowBytes, now - windowStart);
        windowStart = now;
        windowBytes = 0;
      }
      yield chunk;
    }
  } catch (error) {
    if ((error as { code?: string }).code === 'UND_ERR_BODY_TIMEOUT')
      throw slowError(guard, 0, floor.windowMs, error);
    if (error instanceof TbuildError || !(error instanceof Error) || error.name === 'AbortError')
      throw error;
    // A reset or a closed socket mid-body: name the registry (the cause keeps the code
    // that makes it worth a retry).
    const code = (error as { code?: string }).code;
    throw new RegistryRequestError(
      `${guard.registry} broke off the ${guard.what}: ${code ?? error.message}`,
      undefined,
      { cause: error },
    );
  } finally {
    if (!body.destroyed) body.destroy();
  }
}

/** The whole body, within `guard.limit`. */
export async function readBounded(res: HttpResponse, guard: BodyGuard): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of guardedChunks(res.body, res.headers['content-length'], guard))
    chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** At most `limit` bytes of the body as text (an error body: the start says what went wrong). */
export async function readPrefix(res: HttpResponse, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const raw of res.body) {
      const chunk = raw as Buffer;
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) break;
    }
  } finally {
    if (!res.body.destroyed) res.body.destroy();
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

function slowError(
  guard: BodyGuard,
  bytes: number,
  ms: number,
  cause?: unknown,
): RegistryTimeoutError {
  const seconds = Math.round(ms / 100) / 10;
  return new RegistryTimeoutError(
    `${guard.registry} is too slow: it sent ${bytes} bytes of the ${guard.what} in ${seconds} s (tbuild needs at least ${guard.floor.minBytes} bytes every ${guard.floor.windowMs / 1000} s)`,
    cause === undefined ? {} : { cause },
  );
}
