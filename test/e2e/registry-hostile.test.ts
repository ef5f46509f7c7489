/**
 * Hostile and slow registries (issue 14, items 5 and 6). Each case is a small HTTP server
 * on 127.0.0.1 written here, answering the one way a broken or malicious registry would:
 * endless manifests, huge error bodies, a config that claims gigabytes, headers or bodies
 * trickled a byte at a time. The client must stop reading at its limits and give up on a
 * registry that is too slow, with a clear error naming it — never hang or buffer it all.
 * Timeouts are shortened through the client's options so that the cases stay fast; the
 * defaults (30 s for headers, 1 KiB per 30 s for bodies) are the same code with other
 * numbers.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createRegistryClient,
  DigestMismatchError,
  RegistryNotFoundError,
  RegistryRequestError,
  RegistryResponseTooLargeError,
  RegistryTimeoutError,
} from '../../src/registry/index.ts';
import type { RegistryClient } from '../../src/registry/index.ts';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface Hostile {
  host: string;
  /** Requests seen, as `METHOD path`. */
  requests: string[];
  /** Body bytes the server managed to write (how much the client let it send). */
  sent(): number;
  stop(): Promise<void>;
}

const servers: Hostile[] = [];
const clients: RegistryClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function serve(handler: Handler): Promise<Hostile> {
  const requests: string[] = [];
  let sent = 0;
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const write = res.write.bind(res) as (chunk: Buffer | string, done?: () => void) => boolean;
    res.write = ((chunk: Buffer | string, done?: () => void) => {
      sent += Buffer.byteLength(chunk);
      return write(chunk, done);
    }) as typeof res.write;
    res.on('error', () => undefined);
    if (req.url === '/v2/') {
      res.writeHead(200).end('{}');
      return;
    }
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const hostile: Hostile = {
    host: `127.0.0.1:${port}`,
    requests,
    sent: () => sent,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(hostile);
  return hostile;
}

function client(options: Parameters<typeof createRegistryClient>[0] = {}): RegistryClient {
  const c = createRegistryClient({ retries: 2, retryBaseDelayMs: 10, ...options });
  clients.push(c);
  return c;
}

/** Write 64 KiB chunks as fast as the client reads them, until it hangs up. */
function endless(res: http.ServerResponse, chunk = Buffer.alloc(64 * 1024, 0x20)): void {
  const pump = () => {
    while (!res.destroyed && res.write(chunk));
    if (!res.destroyed) res.once('drain', pump);
  };
  res.socket?.on('close', () => res.destroy());
  pump();
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

const MiB = 1024 * 1024;
const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}` as const;

describe('registry responses are read within limits', () => {
  it('stops reading an endless manifest at 4 MiB', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      endless(res);
    });
    const error = await failure(client().getManifest(`${server.host}/huge/app:1`));
    expect(error).toBeInstanceOf(RegistryResponseTooLargeError);
    expect((error as Error).message).toContain(server.host);
    expect((error as Error).message).toContain('4194304 bytes');
    // What the server got to write is the limit plus what the sockets buffer, not gigabytes.
    expect(server.sent()).toBeLessThan(16 * MiB);
  });

  it('refuses a manifest whose Content-Length is over the limit without reading it', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(2 * 1024 * MiB) });
      endless(res);
    });
    const error = await failure(client().getManifest(`${server.host}/huge/app:1`));
    expect(error).toBeInstanceOf(RegistryResponseTooLargeError);
    expect((error as Error).message).toContain('2147483648 bytes');
    expect(server.sent()).toBeLessThan(16 * MiB);
  });

  it('reads only the start of an endless error body', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      endless(res, Buffer.alloc(64 * 1024, 0x61));
    });
    const error = await failure(client().getManifest(`${server.host}/missing/app:1`));
    expect(error).toBeInstanceOf(RegistryNotFoundError);
    expect(server.sent()).toBeLessThan(16 * MiB);
  });

  it('refuses an image config that claims 5 GB before fetching it', async () => {
    const config = { digest: `sha256:${'c'.repeat(64)}`, size: 5 * 1024 * MiB };
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [],
    });
    const server = await serve((req, res) => {
      if (req.url?.includes('/manifests/')) {
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
        res.end(manifest);
      } else {
        res.writeHead(200);
        endless(res);
      }
    });
    const error = await failure(client().resolve(`${server.host}/big/config:1`));
    expect(error).toBeInstanceOf(RegistryResponseTooLargeError);
    expect((error as Error).message).toContain('image config');
    expect(server.requests.some((r) => r.includes('/blobs/'))).toBe(false);
  });

  it('stops reading an endless token response at 1 MiB', async () => {
    const server = await serve((req, res) => {
      if (req.url?.startsWith('/token')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        endless(res);
        return;
      }
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="x"`,
      });
      res.end();
    });
    const error = await failure(client().getManifest(`${server.host}/auth/app:1`));
    expect(error).toBeInstanceOf(RegistryResponseTooLargeError);
    expect((error as Error).message).toContain('token response');
    expect(server.sent()).toBeLessThan(16 * MiB);
  });

  it('stops a blob that is longer than its descriptor says', async () => {
    const blob = Buffer.alloc(4096, 0x62);
    const server = await serve((_req, res) => {
      res.writeHead(200);
      endless(res, blob);
    });
    const stream = await client().fetchBlob(`${server.host}/blob/app`, digestOf(blob), {
      size: blob.length,
    });
    const error = await failure(
      (async () => {
        for await (const chunk of stream) void chunk;
      })(),
    );
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect(server.sent()).toBeLessThan(16 * MiB);
  });
});

describe('slow registries are given up on, with retries and a clear error', () => {
  const floor = { minBytes: 1024, windowMs: 600 };

  it('gives up on headers trickled one line at a time', async () => {
    const server = await serve((req, res) => {
      const socket = req.socket;
      socket.write('HTTP/1.1 200 OK\r\n');
      const timer = setInterval(() => {
        if (socket.destroyed) clearInterval(timer);
        else socket.write('x-slow: 1\r\n');
      }, 100);
      socket.on('close', () => clearInterval(timer));
      void res;
    });
    const started = Date.now();
    const error = await failure(
      client({ headersTimeoutMs: 500, speedFloor: floor }).getManifest(`${server.host}/slow/a:1`),
    );
    expect(error).toBeInstanceOf(RegistryTimeoutError);
    expect((error as Error).message).toContain(server.host);
    expect((error as Error).message).toMatch(/did not answer .* within 0.5 s/);
    // The first attempt and two retries, then the error.
    expect(server.requests.filter((r) => r.includes('/manifests/'))).toHaveLength(3);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('gives up on a manifest body trickled a byte at a time', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write('{')), 50);
      res.on('close', () => clearInterval(timer));
    });
    const error = await failure(
      client({ speedFloor: floor }).getManifest(`${server.host}/trickle/a:1`),
    );
    expect(error).toBeInstanceOf(RegistryTimeoutError);
    expect((error as Error).message).toContain(`${server.host} is too slow`);
    expect((error as Error).message).toContain('manifest of');
    expect(server.requests.filter((r) => r.includes('/manifests/'))).toHaveLength(3);
  });

  it('gives up on a blob body that stalls, after retries', async () => {
    const blob = Buffer.alloc(8192, 0x63);
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(blob.length) });
      res.write(blob.subarray(0, 100)); // then nothing
    });
    const stream = await client({ speedFloor: floor }).fetchBlob(
      `${server.host}/stall/a`,
      digestOf(blob),
      { size: blob.length },
    );
    const error = await failure(
      (async () => {
        for await (const chunk of stream) void chunk;
      })(),
    );
    expect(error).toBeInstanceOf(RegistryTimeoutError);
    expect((error as Error).message).toContain(server.host);
    expect(server.requests.filter((r) => r.includes('/blobs/'))).toHaveLength(3);
  });

  it('resumes a blob whose body stalled, from where it stopped (Range)', async () => {
    const blob = Buffer.from(Array.from({ length: 20_000 }, (_, i) => i % 251));
    const ranges: (string | undefined)[] = [];
    const server = await serve((req, res) => {
      ranges.push(req.headers.range);
      const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
      if (from === 0) {
        res.writeHead(200, { 'content-length': String(blob.length) });
        res.write(blob.subarray(0, 5000)); // then stall
        return;
      }
      res.writeHead(206, {
        'content-length': String(blob.length - from),
        'content-range': `bytes ${from}-${blob.length - 1}/${blob.length}`,
      });
      res.end(blob.subarray(from));
    });
    const stream = await client({ speedFloor: floor }).fetchBlob(
      `${server.host}/resume/a`,
      digestOf(blob),
      { size: blob.length },
    );
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(blob)).toBe(true);
    expect(ranges).toEqual([undefined, 'bytes=5000-']);
  });

  it('resumes a blob whose connection was reset mid-body, and names the registry when it always is', async () => {
    const blob = Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 7) % 251));
    let always = false;
    const server = await serve((req, res) => {
      const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
      if (from === 0 || always) {
        res.writeHead(200, { 'content-length': String(blob.length) });
        res.write(blob.subarray(0, 5000), () => req.socket.destroy());
        return;
      }
      res.writeHead(206, { 'content-length': String(blob.length - from) });
      res.end(blob.subarray(from));
    });
    const read = async (repo: string) => {
      const stream = await client().fetchBlob(`${server.host}/${repo}`, digestOf(blob), {
        size: blob.length,
      });
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    };
    expect((await read('reset/once')).equals(blob)).toBe(true);
    always = true;
    const error = await failure(read('reset/always'));
    expect(error).toBeInstanceOf(RegistryRequestError);
    expect((error as Error).message).toContain(`${server.host} broke off the blob`);
  });
});
