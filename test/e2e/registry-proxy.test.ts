/**
 * HTTP_PROXY, HTTPS_PROXY and NO_PROXY (issue 15, item 10), with a real proxy started
 * here: it forwards plain-HTTP requests (absolute URIs) and tunnels CONNECT, and records
 * what it was asked. The registry is a real one on 127.0.0.1, reached through the proxy by
 * a name only the proxy resolves (`registry.tbuild.test`): a request that bypassed the
 * proxy could not reach it. Loopback registries are never proxied.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistryClient } from '../../src/registry/index.ts';
import { makeTestImage, pushTestImage, startRegistry } from '../helpers/registry.ts';
import type { TestImage, TestRegistry } from '../helpers/registry.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';

const NAME = 'registry.tbuild.test';

interface Proxy {
  url: string;
  /** `GET http://host/path` for forwarded requests, `CONNECT host:port` for tunnels. */
  seen: string[];
  stop(): Promise<void>;
}

/** A forward proxy that sends `registry.tbuild.test` to 127.0.0.1. */
async function startProxy(): Promise<Proxy> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? '/');
    const upstream = http.request(
      {
        host: target.hostname === NAME ? '127.0.0.1' : target.hostname,
        port: target.port,
        method: req.method,
        path: target.pathname + target.search,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req, socket, head) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host === NAME ? '127.0.0.1' : host!, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket).pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('registry access through a proxy', () => {
  let registry: TestRegistry;
  let proxy: Proxy;
  let image: TestImage;
  let remote: string;

  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startProxy();
    image = await makeTestImage({ 'proxied.txt': 'through the proxy\n' });
    await pushTestImage(`${registry.host}/proxy/app:1`, image);
    remote = `${NAME}:${registry.port}`;
  });
  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  it('sends plain-HTTP registry requests through HTTP_PROXY', async () => {
    proxy.seen.length = 0;
    const client = createRegistryClient({
      insecureRegistries: [remote],
      proxyEnv: { HTTP_PROXY: proxy.url },
    });
    try {
      const result = await client.getManifest(`${remote}/proxy/app:1`);
      expect(result.digest).toBe(image.manifestDigest);
    } finally {
      await client.close();
    }
    expect(proxy.seen).toContain(`GET http://${remote}/v2/proxy/app/manifests/1`);
  });

  it('tunnels https registries through HTTPS_PROXY (CONNECT)', async () => {
    proxy.seen.length = 0;
    const client = createRegistryClient({ retries: 0, proxyEnv: { https_proxy: proxy.url } });
    try {
      // The registry speaks plain HTTP, so TLS fails inside the tunnel: what matters
      // here is that the tunnel was asked of the proxy.
      await expect(client.getManifest(`${remote}/proxy/app:1`)).rejects.toThrow();
    } finally {
      await client.close();
    }
    expect(proxy.seen).toEqual([`CONNECT ${remote}`]);
  });

  it('goes direct for hosts in NO_PROXY', async () => {
    proxy.seen.length = 0;
    const client = createRegistryClient({
      retries: 0,
      insecureRegistries: [remote],
      proxyEnv: { HTTP_PROXY: proxy.url, NO_PROXY: `example.org,.tbuild.test` },
    });
    try {
      // Direct, the name does not resolve: only the proxy knows it.
      await expect(client.getManifest(`${remote}/proxy/app:1`)).rejects.toThrow(
        /ENOTFOUND|EAI_AGAIN/,
      );
    } finally {
      await client.close();
    }
    expect(proxy.seen).toEqual([]);
  });

  it('never proxies a loopback registry', async () => {
    proxy.seen.length = 0;
    const client = createRegistryClient({
      proxyEnv: { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url },
    });
    try {
      const result = await client.getManifest(`${registry.host}/proxy/app:1`);
      expect(result.digest).toBe(image.manifestDigest);
      const loopback = `127.0.0.1:${registry.port}/proxy/app:1`;
      expect((await client.getManifest(loopback)).digest).toBe(image.manifestDigest);
    } finally {
      await client.close();
    }
    expect(proxy.seen).toEqual([]);
  });

  /** The CLI's environment: this proxy only, whatever the test process has set. */
  const proxyEnv = () => ({
    HTTP_PROXY: proxy.url,
    http_proxy: undefined,
    NO_PROXY: undefined,
    no_proxy: undefined,
  });

  it('tbuild pull honours the proxy variables of its environment', async () => {
    proxy.seen.length = 0;
    const root = await mkdtemp(join(tmpdir(), 'tbuild-proxy-'));
    try {
      const result = await runTbuild(
        ['pull', '--root', root, '--insecure-registry', remote, `${remote}/proxy/app:1`],
        { env: proxyEnv() },
      );
      expect(result.stderr).not.toContain('ERROR');
      expect(result.code).toBe(0);
      expect(proxy.seen.some((s) => s.includes(`/blobs/${image.layerDigest}`))).toBe(true);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('tbuild build pulls its base through the proxy', async () => {
    proxy.seen.length = 0;
    const work = await mkdtemp(join(tmpdir(), 'tbuild-proxy-build-'));
    try {
      await writeFile(join(work, 'Dockerfile'), `FROM ${remote}/proxy/app:1\nENV A=1\n`);
      const result = await runTbuild(
        [
          'build',
          '--root',
          join(work, 'store'),
          '--insecure-registry',
          remote,
          '-o',
          `type=oci,dest=${join(work, 'out.tar')}`,
          work,
        ],
        { env: proxyEnv() },
      );
      expect(result.stderr).not.toContain('ERROR');
      expect(result.code).toBe(0);
      expect(proxy.seen.some((s) => s.includes('/manifests/1'))).toBe(true);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
