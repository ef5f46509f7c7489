/**
 * A real registry for tests: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1
 * with a temp storage dir, optionally behind htpasswd (bcrypt via libc's crypt, through
 * perl) or token auth (a token server in this process signing JWTs with a key and
 * self-signed certificate made by openssl). Plus a fault-injecting proxy that counts
 * requests, resets connections and corrupts bodies on demand.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, createSign, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { create } from 'tar';
import { createRegistryClient } from '../../src/registry/index.ts';

const run = promisify(execFile);

export type RegistryAuth = 'none' | 'htpasswd' | 'token';

export interface StartRegistryOptions {
  auth?: RegistryAuth;
  port?: number;
  /** Accounts for htpasswd/token auth (default { tbuild: 'secret' }). */
  users?: Record<string, string>;
}

export interface TokenServer {
  url: string;
  /** Token requests served so far (GET and POST). */
  requests: { method: string; account?: string; scopes: string[]; status: number }[];
  /** A refresh token (docker's `identitytoken`) that the server exchanges for `user`. */
  identityTokenFor(user: string): string;
  stop(): Promise<void>;
}

export interface TestRegistry {
  /** `localhost:PORT`, to put in image references. */
  host: string;
  url: string;
  port: number;
  storageDir: string;
  users: Record<string, string>;
  tokenServer?: TokenServer;
  /** The registry's own log, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Start docker-registry; stop() it in afterAll. */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  const auth = options.auth ?? 'none';
  const users = options.users ?? { tbuild: 'secret' };
  const dir = await mkdtemp(join(tmpdir(), 'tbuild-registry-'));
  const port = options.port ?? (await freePort());
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(dir, 'storage') }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex') },
  };
  let tokenServer: TokenServer | undefined;
  if (auth === 'htpasswd') {
    const path = join(dir, 'htpasswd');
    await writeFile(path, (await Promise.all(Object.entries(users).map(bcryptLine))).join(''));
    config.auth = { htpasswd: { realm: 'tbuild-test', path } };
  } else if (auth === 'token') {
    tokenServer = await startTokenServer(dir, users);
    config.auth = {
      token: {
        realm: `${tokenServer.url}/token`,
        service: TOKEN_SERVICE,
        issuer: TOKEN_ISSUER,
        rootcertbundle: join(dir, 'token.crt'),
      },
    };
  }
  const configPath = join(dir, 'config.yml'); // JSON is YAML
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const child = spawn('/usr/bin/docker-registry', ['serve', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilServing(`${url}/v2/`, child, () => log);
  } catch (error) {
    await stopChild(child);
    await tokenServer?.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    host: `localhost:${port}`,
    url,
    port,
    storageDir: join(dir, 'storage'),
    users,
    ...(tokenServer ? { tokenServer } : {}),
    log: () => log,
    async stop() {
      await stopChild(child);
      await tokenServer?.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitUntilServing(
  url: string,
  child: ChildProcess,
  log: () => string,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`docker-registry exited (${child.exitCode}):\n${log()}`);
    try {
      const res = await fetch(url);
      if (res.status === 200 || res.status === 401) return;
    } catch (error) {
      if (!/fetch failed|ECONNREFUSED/.test(String((error as Error).message))) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`docker-registry did not start within 15 s:\n${log()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `user:$2b$…` — distribution accepts only bcrypt; libxcrypt's crypt(3) makes it. */
async function bcryptLine([user, password]: [string, string]): Promise<string> {
  const salt = Array.from(randomBytes(22), (b) => BCRYPT_ALPHABET[b % 64]).join('');
  // The last salt character only carries 2 bits: keep it to ones whose low bits are zero.
  const setting = `$2b$05$${salt.slice(0, 21)}${'.Oeu'[randomBytes(1)[0]! % 4]}`;
  const { stdout } = await run('perl', [
    '-e',
    'print crypt($ARGV[0], $ARGV[1])',
    password,
    setting,
  ]);
  if (!stdout.startsWith('$2b$')) throw new Error(`crypt(3) made no bcrypt hash: ${stdout}`);
  return `${user}:${stdout}\n`;
}

const TOKEN_SERVICE = 'tbuild-test-registry';
const TOKEN_ISSUER = 'tbuild-test-issuer';

async function startTokenServer(dir: string, users: Record<string, string>): Promise<TokenServer> {
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    '2',
    '-subj',
    '/CN=tbuild-test-token',
  ]);
  const key = await readFile(keyPath, 'utf8');
  const certDer = (await readFile(certPath, 'utf8')).replace(/-----[^-]+-----|\s/g, '');
  const requests: TokenServer['requests'] = [];
  const refreshTokens = new Map<string, string>();

  const sign = (account: string | undefined, scopes: string[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certDer] };
    const access =
      account === undefined ? [] : scopes.map(parseScope).filter((a) => a !== undefined);
    const claims = {
      iss: TOKEN_ISSUER,
      sub: account ?? '',
      aud: TOKEN_SERVICE,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(input).sign(key).toString('base64url');
    return `${input}.${signature}`;
  };

  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      let account: string | undefined;
      let scopes = url.searchParams
        .getAll('scope')
        .flatMap((s) => s.split(' '))
        .filter(Boolean);
      let ok = true;
      if (req.method === 'POST') {
        const form = new URLSearchParams(body);
        scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
        if (form.get('grant_type') === 'refresh_token')
          account = refreshTokens.get(form.get('refresh_token') ?? '');
        else if (users[form.get('username') ?? ''] === form.get('password'))
          account = form.get('username')!;
        ok = account !== undefined;
      } else {
        const authHeader = req.headers.authorization ?? '';
        if (authHeader.startsWith('Basic ')) {
          const [user, ...rest] = Buffer.from(authHeader.slice(6), 'base64').toString().split(':');
          ok = users[user!] !== undefined && users[user!] === rest.join(':');
          if (ok) account = user;
        }
      }
      const status = ok ? 200 : 401;
      requests.push({
        method: req.method ?? 'GET',
        ...(account ? { account } : {}),
        scopes,
        status,
      });
      res.writeHead(status, { 'content-type': 'application/json' });
      if (!ok) return res.end(JSON.stringify({ details: 'wrong credentials' }));
      const token = sign(account, scopes);
      res.end(
        JSON.stringify({
          token,
          access_token: token,
          expires_in: 300,
          issued_at: new Date().toISOString(),
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    identityTokenFor(user) {
      const token = `refresh-${user}-${randomBytes(6).toString('hex')}`;
      refreshTokens.set(token, user);
      return token;
    },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first === -1 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope.slice(last + 1).split(','),
  };
}

function b64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}

/** What the proxy does to one request. */
export type ProxyFault = 'reset' | 'corrupt' | 'unavailable' | undefined;

export interface ProxiedRequest {
  method: string;
  path: string;
}

export interface FaultProxy {
  /** `127.0.0.1:PORT` — a loopback host, so the client speaks plain HTTP to it. */
  host: string;
  requests: ProxiedRequest[];
  stop(): Promise<void>;
}

/**
 * An HTTP proxy in front of `target` (`127.0.0.1:PORT`). `fault` decides per request:
 * `reset` drops the connection before forwarding, `corrupt` flips the first byte of the
 * response body, `unavailable` answers 503.
 */
export async function startFaultProxy(
  target: string,
  fault: (req: ProxiedRequest, seen: ProxiedRequest[]) => ProxyFault = () => undefined,
): Promise<FaultProxy> {
  const [targetHost, targetPort] = target.split(':') as [string, string];
  const requests: ProxiedRequest[] = [];
  const server = http.createServer((req, res) => {
    const entry = { method: req.method ?? 'GET', path: req.url ?? '/' };
    const action = fault(entry, requests);
    requests.push(entry);
    if (action === 'reset') {
      req.socket.destroy();
      return;
    }
    if (action === 'unavailable') {
      req.resume();
      res.writeHead(503, { 'retry-after': '0' }).end();
      return;
    }
    const upstream = http.request(
      {
        host: targetHost,
        port: Number(targetPort),
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        let first = action === 'corrupt';
        up.on('data', (chunk: Buffer) => {
          if (first && chunk.length > 0) {
            chunk = Buffer.from(chunk);
            chunk[0] = chunk[0]! ^ 0xff;
            first = false;
          }
          res.write(chunk);
        });
        up.on('end', () => res.end());
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A tiny single-layer image made in memory, ready to push. */
export interface TestImage {
  layer: Buffer;
  config: Buffer;
  manifest: Buffer;
  layerDigest: `sha256:${string}`;
  configDigest: `sha256:${string}`;
  manifestDigest: `sha256:${string}`;
}

/** Build a one-layer OCI image whose layer holds `files` (name → content). */
export async function makeTestImage(
  files: Record<string, string>,
  platform: { os: string; architecture: string; variant?: string } = {
    os: 'linux',
    architecture: 'amd64',
  },
): Promise<TestImage> {
  const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}` as const;
  const root = await mkdtemp(join(tmpdir(), 'tbuild-image-'));
  try {
    for (const [name, content] of Object.entries(files)) {
      await mkdir(dirname(join(root, name)), { recursive: true });
      await writeFile(join(root, name), content);
    }
    const chunks: Buffer[] = [];
    const stream = create({ cwd: root, portable: true, mtime: new Date(0) }, Object.keys(files));
    for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
    const layer = Buffer.concat(chunks);
    const layerDigest = digestOf(layer);
    const config = Buffer.from(
      JSON.stringify({
        ...platform,
        config: { Cmd: ['/bin/sh'] },
        rootfs: { type: 'layers', diff_ids: [layerDigest] },
      }),
    );
    const configDigest = digestOf(config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: configDigest,
          size: config.length,
        },
        layers: [
          {
            mediaType: 'application/vnd.oci.image.layer.v1.tar',
            digest: layerDigest,
            size: layer.length,
          },
        ],
      }),
    );
    return {
      layer,
      config,
      manifest,
      layerDigest,
      configDigest,
      manifestDigest: digestOf(manifest),
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** Push `image` (layer, config, manifest) to `ref` (`host/repo:tag`), with a client of its own. */
export async function pushTestImage(ref: string, image: TestImage): Promise<void> {
  const client = createRegistryClient();
  try {
    for (const [digest, bytes] of [
      [image.layerDigest, image.layer],
      [image.configDigest, image.config],
    ] as const)
      await client.uploadBlob(ref, digest, bytes.length, () => Readable.from([bytes]));
    await client.putManifest(ref, image.manifest, 'application/vnd.oci.image.manifest.v1+json');
  } finally {
    await client.close();
  }
}
