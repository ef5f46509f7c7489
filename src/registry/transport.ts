/**
 * HTTP for the registry client on undici: picks http or https per registry, retries
 * transient failures with exponential backoff and jitter (5xx, 429 with Retry-After,
 * connection resets), and follows redirects by hand so that credentials never travel to
 * another host (blob downloads are often redirected to object storage).
 */
import type { Readable } from 'node:stream';
import { isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import type { Dispatcher } from 'undici';
import { RegistryRequestError } from './errors.ts';

export type RequestBody = Buffer | string | Readable;

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** A factory, so a retried request sends its body again from the start. */
  body?: () => RequestBody;
  /** Retry resets and 5xx/429 (off for requests the caller resumes itself). Default true. */
  retry?: boolean;
  followRedirects?: boolean;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** The URL that answered (after redirects). */
  url: string;
}

export interface TransportOptions {
  insecureRegistries?: readonly string[];
  userAgent?: string;
  /** Extra attempts after the first (default 3). */
  retries?: number;
  /** First backoff delay; doubles each attempt, with jitter (default 250 ms). */
  retryBaseDelayMs?: number;
  dispatcher?: Dispatcher;
}

export interface Transport {
  send(req: HttpRequest): Promise<HttpResponse>;
  /** `https://host` or, for loopback / insecure registries, `http://host`. */
  baseUrl(host: string): string;
  close(): Promise<void>;
}

const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
]);
const MAX_REDIRECTS = 5;
const MAX_RETRY_AFTER_MS = 30_000;

/** True for `localhost`, 127.0.0.0/8 and ::1 (with or without a port). */
export function isLoopbackHost(host: string): boolean {
  let name = host;
  if (name.startsWith('[')) name = name.slice(1, name.indexOf(']'));
  else if (name.split(':').length === 2) name = name.split(':')[0]!;
  name = name.toLowerCase();
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  return isIP(name) === 6 && (name === '::1' || name === '0:0:0:0:0:0:0:1');
}

/** Whether a network error is worth another attempt. */
export function isTransientNetworkError(error: unknown): boolean {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = (e as { code?: string }).code;
    if (code !== undefined && RETRYABLE_CODES.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Delay before retry `attempt` (0-based): Retry-After when given, else backoff with full jitter. */
export function retryDelayMs(attempt: number, baseMs: number, retryAfter?: string): number {
  if (retryAfter) {
    const seconds = Number(retryAfter);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
    if (Number.isFinite(ms)) return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
  }
  const ceiling = Math.min(baseMs * 2 ** attempt, 10_000);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

export function createTransport(options: TransportOptions = {}): Transport {
  const insecure = new Set((options.insecureRegistries ?? []).map((h) => h.toLowerCase()));
  const retries = options.retries ?? 3;
  const baseDelay = options.retryBaseDelayMs ?? 250;
  const ownDispatcher = options.dispatcher ? undefined : new Agent({ connections: 8 });
  const dispatcher = options.dispatcher ?? ownDispatcher!;
  const userAgent = options.userAgent ?? 'tbuild';

  const sendOnce = async (req: HttpRequest, url: string, headers: Record<string, string>) => {
    const res = await request(url, {
      method: req.method,
      headers: { 'user-agent': userAgent, ...headers },
      body: req.body?.(),
      dispatcher,
      signal: req.signal,
    });
    return { status: res.statusCode, headers: flattenHeaders(res.headers), body: res.body, url };
  };

  const sendWithRedirects = async (req: HttpRequest): Promise<HttpResponse> => {
    let url = req.url;
    let headers = { ...req.headers };
    for (let hop = 0; ; hop++) {
      const res = await sendOnce(req, url, headers);
      const location = res.headers.location;
      if (!req.followRedirects || ![301, 302, 303, 307, 308].includes(res.status) || !location)
        return res;
      await res.body.dump();
      if (hop >= MAX_REDIRECTS)
        throw new RegistryRequestError(`too many redirects fetching ${req.url}`);
      const next = new URL(location, url);
      if (next.host !== new URL(url).host) headers = withoutAuthorization(headers);
      url = next.toString();
    }
  };

  return {
    baseUrl(host) {
      const plain = isLoopbackHost(host) || insecure.has(host.toLowerCase());
      return `${plain ? 'http' : 'https'}://${host}`;
    },
    async send(req) {
      const attempts = req.retry === false ? 1 : retries + 1;
      for (let attempt = 0; ; attempt++) {
        const last = attempt + 1 >= attempts;
        let res: HttpResponse;
        try {
          res = await sendWithRedirects(req);
        } catch (error) {
          if (last || !isTransientNetworkError(error)) throw wrapNetworkError(req, error);
          await sleep(retryDelayMs(attempt, baseDelay), undefined, { signal: req.signal });
          continue;
        }
        if (!last && (res.status >= 500 || res.status === 429)) {
          await res.body.dump();
          await sleep(retryDelayMs(attempt, baseDelay, res.headers['retry-after']), undefined, {
            signal: req.signal,
          });
          continue;
        }
        return res;
      }
    },
    async close() {
      await ownDispatcher?.close();
    },
  };
}

function withoutAuthorization(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() !== 'authorization') out[k] = v;
  return out;
}

function flattenHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers))
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function wrapNetworkError(req: HttpRequest, error: unknown): unknown {
  if (!(error instanceof Error) || error.name === 'AbortError') return error;
  const code = (error as { code?: string }).code;
  const host = new URL(req.url).host;
  return new RegistryRequestError(
    `${req.method} ${req.url} failed: ${code ?? error.message}`,
    undefined,
    {
      hint:
        code === 'ECONNREFUSED'
          ? `Nothing listens at ${host}; check the registry address.`
          : /EPROTO|SSL|TLS|certificate/i.test(error.message)
            ? `TLS failed with ${host}; if it serves plain HTTP, pass --insecure-registry ${host}.`
            : 'Check the network and the registry; transient failures were already retried.',
      cause: error,
    },
  );
}
