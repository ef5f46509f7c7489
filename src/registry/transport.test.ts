import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createTransport, isLoopbackHost, retryDelayMs } from './transport.ts';

const servers: http.Server[] = [];
async function serve(handler: http.RequestListener, host = '127.0.0.1'): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return `${host}:${(server.address() as AddressInfo).port}`;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

describe('transport', () => {
  it('uses plain HTTP only for loopback hosts and declared insecure registries', () => {
    const t = createTransport({ insecureRegistries: ['registry.lan:5000'] });
    expect(t.baseUrl('localhost:5000')).toBe('http://localhost:5000');
    expect(t.baseUrl('127.0.0.2:80')).toBe('http://127.0.0.2:80');
    expect(t.baseUrl('[::1]:5000')).toBe('http://[::1]:5000');
    expect(t.baseUrl('registry.lan:5000')).toBe('http://registry.lan:5000');
    expect(t.baseUrl('registry.lan')).toBe('https://registry.lan');
    expect(t.baseUrl('ghcr.io')).toBe('https://ghcr.io');
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
  });

  it('honours Retry-After and otherwise backs off with jitter under a cap', () => {
    expect(retryDelayMs(0, 100, '2')).toBe(2000);
    expect(retryDelayMs(0, 100, '99999')).toBe(30_000);
    for (let attempt = 0; attempt < 8; attempt++) {
      const d = retryDelayMs(attempt, 100);
      expect(d).toBeGreaterThanOrEqual(Math.min(100 * 2 ** attempt, 10_000) / 2);
      expect(d).toBeLessThanOrEqual(10_000);
    }
  });

  it('follows a redirect to another host without sending the Authorization header there', async () => {
    const seen: (string | undefined)[] = [];
    const storage = await serve((req, res) => {
      seen.push(req.headers.authorization);
      res.end('blob');
    }, '127.0.0.2');
    const registry = await serve((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(307, { location: `http://${storage}/data?sig=1` }).end();
    });
    const t = createTransport();
    try {
      const res = await t.send({
        method: 'GET',
        url: `http://${registry}/v2/a/blobs/x`,
        headers: { authorization: 'Bearer secret' },
        followRedirects: true,
      });
      expect(await res.body.text()).toBe('blob');
      expect(res.url).toBe(`http://${storage}/data?sig=1`);
      expect(seen).toEqual(['Bearer secret', undefined]);
    } finally {
      await t.close();
    }
  });

  it('retries 5xx and 429 a bounded number of times, then returns the last answer', async () => {
    let calls = 0;
    const host = await serve((_req, res) => {
      calls++;
      res.writeHead(calls === 1 ? 429 : 503, { 'retry-after': '0' }).end();
    });
    const t = createTransport({ retries: 2, retryBaseDelayMs: 1 });
    try {
      const res = await t.send({ method: 'GET', url: `http://${host}/v2/` });
      await res.body.dump();
      expect(res.status).toBe(503);
      expect(calls).toBe(3);
    } finally {
      await t.close();
    }
  });
});
