/**
 * One authenticated registry request: sends with the auth the host asked for before,
 * answers a 401 challenge once, and turns failure statuses into typed errors.
 */
import type { Authenticator } from './auth.ts';
import { readPrefix, RESPONSE_LIMITS } from './body.ts';
import {
  RegistryDeniedError,
  RegistryNotFoundError,
  RegistryRequestError,
  RegistryUnauthorizedError,
} from './errors.ts';
import { registryApiHost } from './reference.ts';
import type { HttpRequest, HttpResponse, Transport } from './transport.ts';

/** What a request is about, for auth and for error messages. */
export interface CallContext {
  /** Registry name as people write it (`docker.io`, `localhost:5000`). */
  registry: string;
  /** Token scopes the request needs, e.g. `repository:team/app:pull`. */
  scopes: readonly string[];
  /** The image or repository, for messages: `localhost:5000/team/app:1.0`. */
  image: string;
  /** What we were doing, for messages: `manifest`, `blob sha256:…`, `push of …`. */
  what: string;
}

export interface Caller {
  /** `http(s)://host/v2` for a registry name. */
  apiBase(registry: string): string;
  call(ctx: CallContext, req: HttpRequest): Promise<HttpResponse>;
  /** Read the response's error body and build the typed error for its status. */
  fail(ctx: CallContext, res: HttpResponse): Promise<Error>;
}

export function createCaller(transport: Transport, auth: Authenticator): Caller {
  const send = async (ctx: CallContext, req: HttpRequest): Promise<HttpResponse> => {
    const host = registryApiHost(ctx.registry);
    const authorization = await auth.authorize(ctx.registry, host, ctx.scopes);
    const headers = { ...req.headers };
    if (authorization) headers.authorization = authorization;
    return transport.send({ ...req, headers });
  };
  return {
    apiBase: (registry) => `${transport.baseUrl(registryApiHost(registry))}/v2`,
    async call(ctx, req) {
      let res = await send(ctx, req);
      if (res.status !== 401) return res;
      const header = res.headers['www-authenticate'];
      await res.body.dump();
      const host = registryApiHost(ctx.registry);
      if (auth.challenge(ctx.registry, host, header, ctx.scopes)) {
        res = await send(ctx, req);
        if (res.status !== 401) return res;
        await res.body.dump();
      }
      throw new RegistryUnauthorizedError(ctx.registry, `${ctx.what} of ${ctx.image}`);
    },
    async fail(ctx, res) {
      const detail = await readErrorDetail(res);
      const what = `${ctx.what} of ${ctx.image}`;
      switch (res.status) {
        case 401:
          return new RegistryUnauthorizedError(ctx.registry, what);
        case 403:
          return new RegistryDeniedError(ctx.registry, what + (detail ? ` (${detail})` : ''));
        case 404:
          return new RegistryNotFoundError(ctx.image, ctx.what);
        default:
          return new RegistryRequestError(
            `${what} failed: ${ctx.registry} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`,
            res.status,
          );
      }
    },
  };
}

/** The distribution spec's `{"errors":[{"code","message"}]}`, or the first bytes of the body. */
async function readErrorDetail(res: HttpResponse): Promise<string> {
  let text: string;
  try {
    text = await readPrefix(res, RESPONSE_LIMITS.errorBody);
  } catch (error) {
    return `(could not read the error body: ${(error as Error).message})`;
  }
  try {
    const parsed = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    if (Array.isArray(parsed.errors) && parsed.errors.length > 0) {
      return parsed.errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
    }
  } catch {
    // Not JSON: fall through to the raw text, which is what the registry said.
    return text.trim().slice(0, 200);
  }
  return text.trim().slice(0, 200);
}
