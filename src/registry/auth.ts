/**
 * Registry authentication: remembers each host's challenge (from a 401's
 * `WWW-Authenticate`), answers Basic challenges from the credential store, and runs the
 * Bearer token flow (GET the realm with service+scopes, or POST an OAuth2 refresh token
 * for an `identitytoken`), caching tokens per (realm, service, scopes) until they expire.
 */
import { readBounded, readPrefix, RESPONSE_LIMITS } from './body.ts';
import type { CredentialStore, Credentials } from './credentials.ts';
import { RegistryRequestError, RegistryUnauthorizedError } from './errors.ts';
import type { Transport } from './transport.ts';
import type { AuthChallenge } from './www-authenticate.ts';
import { parseWwwAuthenticate } from './www-authenticate.ts';

/** Default token lifetime when the server does not say (the distribution spec's 60 s). */
const DEFAULT_EXPIRES_IN_S = 60;
/** Renew this long before expiry so a token never dies mid-request. */
const EXPIRY_MARGIN_MS = 10_000;

export interface Authenticator {
  /** The `Authorization` value for a request to `host` needing `scopes`, if the host asked for auth. */
  authorize(registry: string, host: string, scopes: readonly string[]): Promise<string | undefined>;
  /** Record a 401's challenge and drop stale tokens; true when the challenge is one we can answer. */
  challenge(
    registry: string,
    host: string,
    header: string | undefined,
    scopes: readonly string[],
  ): boolean;
  /** How many tokens were fetched so far (tests check that tokens are cached). */
  tokenCount(): number;
}

interface CachedToken {
  value: string;
  expiresAt: number;
}

/** `repository:team/app:pull,push`. */
export function repositoryScope(repository: string, actions: readonly string[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}

export function createAuthenticator(
  transport: Transport,
  credentials: CredentialStore | undefined,
  overrides: Map<string, Credentials>,
): Authenticator {
  const challenges = new Map<string, AuthChallenge>();
  const tokens = new Map<string, CachedToken>();
  const pending = new Map<string, Promise<CachedToken>>();
  let fetched = 0;

  const credentialsFor = async (registry: string): Promise<Credentials | undefined> =>
    overrides.get(registry) ?? (await credentials?.get(registry));

  const fetchToken = async (
    registry: string,
    c: AuthChallenge,
    scopes: readonly string[],
  ): Promise<CachedToken> => {
    const realm = c.params.realm;
    if (!realm)
      throw new RegistryRequestError(`${registry} sent a Bearer challenge without a realm`);
    const creds = await credentialsFor(registry);
    const service = c.params.service;
    let res;
    if (creds?.identityToken) {
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: creds.identityToken,
        client_id: 'tbuild',
      });
      if (service) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      res = await transport.send({
        method: 'POST',
        url: realm,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: () => form.toString(),
      });
    } else {
      const url = new URL(realm);
      if (service) url.searchParams.set('service', service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      const headers: Record<string, string> = {};
      if (creds?.username !== undefined) {
        url.searchParams.set('account', creds.username);
        headers.authorization = basic(creds);
      }
      res = await transport.send({ method: 'GET', url: url.toString(), headers });
    }
    if (res.status === 401 || res.status === 403) {
      await res.body.dump();
      throw new RegistryUnauthorizedError(
        registry,
        creds ? 'login failed: credentials rejected' : 'anonymous access refused',
      );
    }
    if (res.status !== 200) {
      const text = await readPrefix(res, RESPONSE_LIMITS.errorBody);
      throw new RegistryRequestError(
        `token server ${realm} answered ${res.status}: ${text.slice(0, 200)}`,
        res.status,
      );
    }
    const raw = await readBounded(res, {
      what: 'token response',
      registry: `token server ${new URL(realm).host}`,
      limit: RESPONSE_LIMITS.token,
      floor: transport.speedFloor,
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch (error) {
      throw new RegistryRequestError(`token server ${realm} answered with invalid JSON`, 200, {
        cause: error,
      });
    }
    const body = (parsed ?? {}) as {
      token?: string;
      access_token?: string;
      expires_in?: number;
      issued_at?: string;
    };
    const value = body.token ?? body.access_token;
    if (!value) throw new RegistryRequestError(`token server ${realm} returned no token`);
    fetched++;
    const issued = body.issued_at ? Date.parse(body.issued_at) : NaN;
    const start = Number.isFinite(issued) ? Math.min(issued, Date.now()) : Date.now();
    return {
      value,
      expiresAt: start + (body.expires_in ?? DEFAULT_EXPIRES_IN_S) * 1000 - EXPIRY_MARGIN_MS,
    };
  };

  return {
    async authorize(registry, host, scopes) {
      const c = challenges.get(host);
      if (!c) return undefined;
      if (c.scheme === 'basic') {
        const creds = await credentialsFor(registry);
        return creds?.username !== undefined ? basic(creds) : undefined;
      }
      if (c.scheme !== 'bearer') return undefined;
      const sorted = [...new Set(scopes)].sort();
      const key = `${c.params.realm}|${c.params.service ?? ''}|${sorted.join(' ')}`;
      const cached = tokens.get(key);
      if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.value}`;
      let inflight = pending.get(key);
      if (!inflight) {
        inflight = fetchToken(registry, c, sorted).finally(() => pending.delete(key));
        pending.set(key, inflight);
      }
      const token = await inflight;
      tokens.set(key, token);
      return `Bearer ${token.value}`;
    },
    challenge(_registry, host, header, scopes) {
      const parsed = parseWwwAuthenticate(header ?? '');
      const c =
        parsed.find((x) => x.scheme === 'bearer') ?? parsed.find((x) => x.scheme === 'basic');
      if (!c) return false;
      challenges.set(host, c);
      // Drop tokens for these scopes: a 401 with a token in hand means it is no longer good.
      const sorted = [...new Set(scopes)].sort().join(' ');
      for (const key of tokens.keys()) if (key.endsWith(`|${sorted}`)) tokens.delete(key);
      return true;
    },
    tokenCount: () => fetched,
  };
}

function basic(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username ?? ''}:${creds.password ?? ''}`).toString('base64')}`;
}
