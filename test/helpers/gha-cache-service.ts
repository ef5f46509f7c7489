/**
 * A stand-in for the GitHub Actions cache service, protocol v2, for tests: GitHub's
 * service cannot be reached from here, so its Twirp side is SIMULATED by a small server in
 * this process (CreateCacheEntry, FinalizeCacheEntryUpload, GetCacheEntryDownloadURL, as
 * @actions/cache calls them), while the blob side is real Azure Storage protocol: azurite
 * (npm), the Azure Storage emulator, with SAS URLs signed by the emulator's account key.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './run-tbuild.ts';

// Azurite's well-known development account (public, documented by Microsoft).
const ACCOUNT = 'devstoreaccount1';
const KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const CONTAINER = 'actions-cache';
const SAS_VERSION = '2020-10-02';

export interface GhaCacheService {
  /** ACTIONS_RESULTS_URL. */
  url: string;
  /** ACTIONS_RUNTIME_TOKEN. */
  token: string;
  /** Every Twirp call, in order. */
  calls: Array<{ method: string; key: string }>;
  stop(): Promise<void>;
}

interface Entry {
  key: string;
  version: string;
  blob: string;
  finalized: boolean;
  at: number;
}

export async function startGhaCacheService(): Promise<GhaCacheService> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tbuild-azurite-'));
  const port = await freePort();
  const azurite = spawn(
    path.join(REPO_ROOT, 'node_modules/.bin/azurite-blob'),
    [
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--location',
      dir,
      '--silent',
      '--skipApiVersionCheck',
      '--loose',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const blobBase = `http://127.0.0.1:${port}/${ACCOUNT}`;
  await waitForAzurite(azurite, blobBase);
  const created = await fetch(`${blobBase}/${CONTAINER}?restype=container&${accountSas()}`, {
    method: 'PUT',
  });
  if (created.status !== 201)
    throw new Error(`azurite: creating the container: ${created.status} ${await created.text()}`);

  const token = 'test-runtime-token';
  const entries: Entry[] = [];
  const calls: GhaCacheService['calls'] = [];
  let sequence = 0;
  const sasUrl = (blob: string, permissions: string) =>
    `${blobBase}/${CONTAINER}/${blob}?${blobSas(blob, permissions)}`;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: object) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${token}`)
        return reply(401, { code: 'unauthenticated', msg: 'bad token' });
      const method = /\/twirp\/github\.actions\.results\.api\.v1\.CacheService\/(\w+)$/.exec(
        req.url ?? '',
      )?.[1];
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as {
        key: string;
        version: string;
        restoreKeys?: string[];
      };
      calls.push({ method: method ?? req.url ?? '', key: body.key });
      const live = (e: Entry) => e.finalized && e.version === body.version;
      switch (method) {
        case 'CreateCacheEntry': {
          if (entries.some((e) => e.key === body.key && e.version === body.version))
            return reply(409, { code: 'already_exists', msg: 'cache entry already exists' });
          const blob = `entry-${++sequence}`;
          entries.push({
            key: body.key,
            version: body.version,
            blob,
            finalized: false,
            at: sequence,
          });
          return reply(200, { ok: true, signedUploadUrl: sasUrl(blob, 'cw') });
        }
        case 'FinalizeCacheEntryUpload': {
          const entry = entries.find((e) => e.key === body.key && e.version === body.version);
          if (!entry) return reply(404, { code: 'not_found', msg: 'no such entry' });
          entry.finalized = true;
          entry.at = ++sequence;
          return reply(200, { ok: true, entryId: String(entry.at) });
        }
        case 'GetCacheEntryDownloadURL': {
          // As the service: the exact key first, then the newest entry under a restore prefix.
          const found =
            entries.find((e) => live(e) && e.key === body.key) ??
            (body.restoreKeys ?? [])
              .map(
                (prefix) =>
                  entries
                    .filter((e) => live(e) && e.key.startsWith(prefix))
                    .sort((a, b) => b.at - a.at)[0],
              )
              .find(Boolean);
          if (!found) return reply(200, { ok: false, signedDownloadUrl: '' });
          return reply(200, {
            ok: true,
            signedDownloadUrl: sasUrl(found.blob, 'r'),
            matchedKey: found.key,
          });
        }
        default:
          return reply(404, { code: 'bad_route', msg: `no method ${req.url}` });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    token,
    calls,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      // azurite's graceful stop waits for idle keep-alive clients (up to two minutes):
      // its data is thrown away, so it is killed outright.
      if (azurite.exitCode === null && azurite.signalCode === null) {
        const exited = new Promise((resolve) => azurite.once('exit', resolve));
        azurite.kill('SIGKILL');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A service SAS for one blob (Azure's string-to-sign for versions 2018-11-09 to 2020-10-02). */
function blobSas(blob: string, permissions: string): string {
  const expiry = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const resource = `/blob/${ACCOUNT}/${CONTAINER}/${blob}`;
  const toSign = [
    permissions,
    '',
    expiry,
    resource,
    '',
    '',
    '',
    SAS_VERSION,
    'b',
    '',
    '',
    '',
    '',
    '',
    '',
  ].join('\n');
  return new URLSearchParams({
    sv: SAS_VERSION,
    se: expiry,
    sr: 'b',
    sp: permissions,
    sig: sign(toSign),
  }).toString();
}

/** An account SAS that may create the container. */
function accountSas(): string {
  const expiry = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const toSign = [ACCOUNT, 'rwdlac', 'b', 'sco', '', expiry, '', '', SAS_VERSION, ''].join('\n');
  return new URLSearchParams({
    sv: SAS_VERSION,
    ss: 'b',
    srt: 'sco',
    sp: 'rwdlac',
    se: expiry,
    sig: sign(toSign),
  }).toString();
}

function sign(text: string): string {
  return createHmac('sha256', Buffer.from(KEY, 'base64')).update(text, 'utf8').digest('base64');
}

async function waitForAzurite(child: ChildProcess, base: string): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`azurite exited: ${stderr}`);
    const ok = await fetch(`${base}?comp=list`).then(
      () => true,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`azurite did not start: ${stderr}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
