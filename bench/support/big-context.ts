/**
 * The reference "large context": 20,000 files of varied sizes (a few bytes to ~150 KB,
 * log-uniformly spread) in nested directories, ~316 MB in all. Contents are fresh random
 * bytes on every run, so that no builder can answer the cold build from an earlier run.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface BigContextOptions {
  files?: number;
  totalBytes?: number;
}

export interface BigContext {
  dir: string;
  files: number;
  bytes: number;
  /** One file in the middle of the tree, for the "one file changed" case. */
  sampleFile: string;
}

/** A small deterministic generator (mulberry32): the same size layout on every run. */
function makeRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** File sizes: log-uniform between 64 B and 1 MiB, then scaled so they sum to `total`. */
function planSizes(count: number, total: number): number[] {
  const random = makeRandom(20_000);
  const lo = Math.log(64);
  const hi = Math.log(1 << 20);
  const raw = Array.from({ length: count }, () => Math.exp(lo + random() * (hi - lo)));
  const scale = total / raw.reduce((a, b) => a + b, 0);
  return raw.map((r) => Math.max(1, Math.round(r * scale)));
}

/** Write the context under `dir` with its Dockerfile; returns what it wrote. */
export function writeBigContext(
  dir: string,
  dockerfile: string,
  opts: BigContextOptions = {},
): BigContext {
  const files = opts.files ?? 20_000;
  const sizes = planSizes(files, opts.totalBytes ?? 316_000_000);
  const pool = randomBytes(4 << 20);
  const random = makeRandom(7);
  let bytes = 0;
  let sampleFile = '';
  // 20 packages × 10 directories × 100 files for the default count.
  const perDir = 100;
  for (let i = 0; i < files; i++) {
    const sub = path.join(
      dir,
      `pkg${String(Math.floor(i / (perDir * 10))).padStart(2, '0')}`,
      'src',
      `mod${Math.floor(i / perDir) % 10}`,
    );
    if (i % perDir === 0) mkdirSync(sub, { recursive: true });
    const size = sizes[i]!;
    const start = Math.floor(random() * (pool.length - size));
    const file = path.join(sub, `file${i}.dat`);
    writeFileSync(file, pool.subarray(start, start + size));
    bytes += size;
    if (i === Math.floor(files / 2)) sampleFile = file;
  }
  writeFileSync(path.join(dir, 'Dockerfile'), dockerfile);
  return { dir, files, bytes, sampleFile };
}
