/**
 * An HTTP proxy that passes a registry's responses through a link of a given speed, shared
 * by all connections, so that pulls can be timed over something closer to a CI runner's
 * network than loopback. For benchmarks only (scripts/bench-pull.sh):
 *   node scripts/throttle-proxy.ts 5001 127.0.0.1:5000 20   # port, registry, MB/s
 * then pull localhost:5001/debian:bookworm.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const [port = '5001', target = '127.0.0.1:5000', mbps = '20'] = process.argv.slice(2);
const [targetHost, targetPort] = target.split(':') as [string, string];
const bytesPerMs = (Number(mbps) * 1e6) / 1000;
/** When the link has sent everything queued so far. */
let linkFree = 0;

/** How long to hold a chunk of `length` bytes before it has crossed the link. */
function delayFor(length: number): number {
  const now = performance.now();
  linkFree = Math.max(now, linkFree) + length / bytesPerMs;
  return linkFree - now;
}

const server = http.createServer((req, res) => {
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
      // Each chunk leaves once the link has carried it; the streams keep the backpressure.
      const link = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          setTimeout(() => done(null, chunk), delayFor(chunk.length));
        },
      });
      pipeline(up, link, res).catch(() => undefined);
    },
  );
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
});
server.listen(Number(port), '127.0.0.1', () => {
  process.stdout.write(`throttling ${target} to ${mbps} MB/s on 127.0.0.1:${port}\n`);
});
