/**
 * HTTP for the registry client on undici: picks http or https per registry, retries
 * transient failures with exponential backoff and jitter (5xx, 429 with Retry-After,
 * connection resets, timeouts), and follows redirects by hand so that credentials never
 * travel to another host (blob downloads are often redirected to object storage).
 *
 * Every attempt has a deadline for its headers (30 s) and a speed floor for its body (see
 * body.ts). HTTPS_PROXY, HTTP_PROXY and NO_PROXY are honoured as Docker does, except
 * that loopback registries are always reached directly.
 */
import type { Readable } from 'node:stream';
import { isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as UndiciModule from 'undici';
import type { Dispatcher } from 'undici';
import { DEFAULT_SPEED_FLOOR } from './body.ts';
import type { SpeedFloor } from './body.ts';
import { RegistryRequestError, RegistryTimeoutError } from './errors.ts';

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
  /** Time for a response's headers to arrive, per attempt (default 30 s). */
  headersTimeoutMs?: number;
  /** The least a body must bring per window (default 1 KiB per 30 s). */
  speedFloor?: SpeedFloor;
  /**
   * Where proxy settings come from: HTTPS_PROXY, HTTP_PROXY, NO_PROXY (or their lower-case
   * forms). Default process.env.
   */
  proxyEnv?: Readonly<Record<string, string | undefined>>;
}

export interface Transport {
  send(req: HttpRequest): Promise<HttpResponse>;
  /** `https://host` or, for loopback / insecure registries, `http://host`. */
  baseUrl(host: string): string;
  /** The speed floor bodies are read with (body.ts). */
  readonly speedFloor: SpeedFloor;
  /**
   * Run `attempt` (a request and the reading of its body) again after a transient failure,
   * with backoff: a body that stalls or trickles fails after send() has returned.
   */
  retrying<T>(attempt: () => Promise<T>, signal?: AbortSignal): Promise<T>;
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
  'UND_ERR_BODY_TIMEOUT',
  'TBUILD_REGISTRY_TIMEOUT',
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
  const headersTimeout = options.headersTimeoutMs ?? 30_000;
  const speedFloor = options.speedFloor ?? DEFAULT_SPEED_FLOOR;
  // undici (~100 modules) loads on the first request: a build that needs no registry never does.
  let own: Dispatchers | undefined;
  const userAgent = options.userAgent ?? 'tbuild';
  const dispatcherFor = (undici: Undici, url: string): Dispatcher => {
    if (options.dispatcher) return options.dispatcher;
    own ??= createDispatchers(undici, options.proxyEnv ?? process.env);
    const { protocol, host } = new URL(url);
    if (!own.proxied || isLoopbackHost(host) || !own.schemes.has(protocol)) return own.direct;
    return own.proxied;
  };

  const sendOnce = async (req: HttpRequest, url: string, headers: Record<string, string>) => {
    const undici = await loadUndici();
    const res = await undici.request(url, {
      method: req.method,
      headers: { 'user-agent': userAgent, ...headers },
      body: req.body?.(),
      dispatcher: dispatcherFor(undici, url),
      signal: req.signal,
      headersTimeout,
      // A body that brings nothing for a whole window fails here; a trickle, in body.ts.
      bodyTimeout: speedFloor.windowMs,
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

  // Errors send() already retried: retrying() passes them on instead of retrying again.
  const exhausted = new WeakSet<object>();
  const wrap = (req: HttpRequest, error: unknown) => {
    const wrapped = wrapNetworkError(req, error, headersTimeout);
    if (typeof wrapped === 'object' && wrapped !== null) exhausted.add(wrapped);
    return wrapped;
  };

  return {
    speedFloor,
    async retrying(attempt, signal) {
      for (let n = 0; ; n++) {
        try {
          return await attempt();
        } catch (error) {
          const retryable = isTransientNetworkError(error) && !exhausted.has(error as object);
          if (n >= retries || !retryable) throw error;
          await sleep(retryDelayMs(n, baseDelay), undefined, { signal });
        }
      }
    },
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
          if (last || !isTransientNetworkError(error)) throw wrap(req, error);
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
      await own?.direct.close();
      await own?.proxied?.close();
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

/**
 * The client's own agents: one for direct connections, and undici's EnvHttpProxyAgent
 * (which applies NO_PROXY) for the schemes whose proxy variable is set. As in Go and
 * Docker, an https registry uses HTTPS_PROXY only, never HTTP_PROXY.
 */
interface Dispatchers {
  direct: Dispatcher;
  proxied: Dispatcher | undefined;
  /** `http:` and/or `https:`: the schemes that go through `proxied`. */
  schemes: ReadonlySet<string>;
}

type Undici = typeof UndiciModule;
let undiciModule: Promise<Undici> | undefined;
const loadUndici = (): Promise<Undici> => (undiciModule ??= import('undici'));

function createDispatchers(
  { Agent, EnvHttpProxyAgent }: Undici,
  env: Readonly<Record<string, string | undefined>>,
): Dispatchers {
  const pick = (name: string) => env[name] || env[name.toLowerCase()] || undefined;
  const httpProxy = pick('HTTP_PROXY');
  const httpsProxy = pick('HTTPS_PROXY');
  const direct = new Agent({ connections: 8 });
  if (!httpProxy && !httpsProxy) return { direct, proxied: undefined, schemes: new Set() };
  const schemes = new Set<string>();
  if (httpProxy) schemes.add('http:');
  if (httpsProxy) schemes.add('https:');
  const proxied = new EnvHttpProxyAgent({
    connections: 8,
    ...(httpProxy ? { httpProxy } : {}),
    ...(httpsProxy ? { httpsProxy } : {}),
    noProxy: pick('NO_PROXY') ?? '',
  });
  return { direct, proxied, schemes };
}

function wrapNetworkError(req: HttpRequest, error: unknown, headersTimeoutMs: number): unknown {
  if (!(error instanceof Error) || error.name === 'AbortError') return error;
  if (error instanceof RegistryTimeoutError) return error;
  const code = (error as { code?: string }).code;
  const host = new URL(req.url).host;
  if (code === 'UND_ERR_HEADERS_TIMEOUT') {
    return new RegistryTimeoutError(
      `${host} did not answer ${req.method} ${req.url} within ${headersTimeoutMs / 1000} s (tried several times)`,
      { cause: error },
    );
  }
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
