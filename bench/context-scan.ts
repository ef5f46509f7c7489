/**
 * Micro benchmark: scan a 20,000-file context cold (every file hashed) and warm (stat
 * cache reused, no content read). Run: node bench/context-scan.ts [fileCount]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checksumPaths, scanContext, StatCache } from '../src/engine/context/index.ts';
import { parseDockerignore } from '../src/shared/dockerignore.ts';

const fileCount = Number(process.argv[2] ?? 20_000);
const root = mkdtempSync(join(tmpdir(), 'tbuild-bench-'));

function makeTree(): void {
  const perDir = 100;
  for (let i = 0; i < fileCount; i++) {
    const d = join(
      root,
      `pkg${Math.floor(i / (perDir * 10))}`,
      `dir${Math.floor(i / perDir) % 10}`,
    );
    if (i % perDir === 0) mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `file${i}.ts`), `export const value${i} = ${i};\n`.repeat(8));
  }
  writeFileSync(join(root, 'debug.log'), 'ignored');
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await fn();
  console.log(`${label.padEnd(28)} ${(performance.now() - start).toFixed(1)} ms`);
  return result;
}

try {
  makeTree();
  // Let ctimes age past the racy-write margin so the cold scan may fill the cache.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const patterns = parseDockerignore('*.log\nnode_modules\n');
  const cache = await StatCache.open(join(root, '..', `${root.split('/').pop()}-statcache`));
  const cold = await timed(`cold scan (${fileCount} files)`, () =>
    scanContext(root, patterns, cache),
  );
  await timed('stat cache save', () => cache.save());
  const reopened = await timed('stat cache open', () => StatCache.open(cache.file));
  const warm = await timed('warm scan', () => scanContext(root, patterns, reopened));
  await timed('warm scan (same process)', () => scanContext(root, patterns, reopened));
  await timed('checksum of "."', async () => checksumPaths(warm, ['.']));
  console.log(
    `cold hashed ${cold.stats.hashed}, warm hashed ${warm.stats.hashed}, reused ${warm.stats.reused}`,
  );
  rmSync(cache.file, { force: true });
} finally {
  rmSync(root, { recursive: true, force: true });
}
