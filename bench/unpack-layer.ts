/**
 * Unpack one layer blob with tbuild's `unpackLayer` and with GNU `tar -xzf`, alternately,
 * into fresh directories on the same file system, and print each one's wall time. Used for
 * the "fresh CI runner" one-file case (issue 10), bound by unpacking the Debian layer.
 *
 *   node bench/unpack-layer.ts BLOB [runs] [--ours-only] [--also=MODULE]
 *
 * BLOB is a layer file (gzip, zstd or plain tar), e.g. the Debian layer from the loopback
 * registry: curl -o /tmp/debian.tgz http://127.0.0.1:5000/v2/debian/blobs/sha256:…
 * Runs from the sources (src/), so no build is needed.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { unpackLayer } from '../src/exporter/layer-unpack.ts';

const [blob, runsArg] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (blob === undefined) {
  console.error('usage: node bench/unpack-layer.ts BLOB [runs]');
  process.exit(2);
}
const runs = Number(runsArg ?? 3);
const onlyOurs = process.argv.includes('--ours-only');
// --also=MODULE: time another module's unpackLayer too (e.g. an older copy of it).
const alsoPath = process.argv.find((a) => a.startsWith('--also='))?.slice('--also='.length);
const also = alsoPath
  ? ((await import(path.resolve(alsoPath))) as { unpackLayer: typeof unpackLayer }).unpackLayer
  : undefined;
const work = mkdtempSync(path.join(path.dirname(path.resolve(blob)), 'unpack-'));

function fmt(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/**
 * Untimed: flush what the last unpack left dirty, so its write-back is not charged to the
 * next one. The trees are removed only at the end for the same reason (this file system is
 * mounted with `discard`).
 */
function settle(): void {
  spawnSync('sync');
}

try {
  for (let i = 0; i < runs; i++) {
    const ours = path.join(work, `ours-${i}`);
    let start = performance.now();
    const result = await unpackLayer(createReadStream(blob), ours);
    const oursMs = performance.now() - start;
    settle();
    let line = `run ${i + 1}: unpackLayer ${fmt(oursMs)} (${result.diffId.slice(0, 19)}…)`;
    if (also) {
      start = performance.now();
      await also(createReadStream(blob), path.join(work, `also-${i}`));
      line += `, ${path.basename(alsoPath!)} ${fmt(performance.now() - start)}`;
      settle();
    }
    if (!onlyOurs) {
      const theirs = path.join(work, `tar-${i}`);
      start = performance.now();
      const tar = spawnSync('sh', [
        '-c',
        `mkdir -p "$2" && tar -xzf "$1" -C "$2"`,
        'sh',
        blob,
        theirs,
      ]);
      if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr.toString()}`);
      line += `, tar -xzf ${fmt(performance.now() - start)}`;
      settle();
    }
    console.log(line);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
