/**
 * Where a "fresh CI runner" build's time goes (issue 10): seed a registry cache of the
 * small app, then build it in an empty store with `--cache-from`, once with the plain
 * progress shown (each task's wall time) and once under `node --cpu-prof` (self time by
 * module and function). `--change` edits one source file first.
 *
 *   npm run build && node bench/profile-fresh-ci.ts [--change] [--push]
 *
 * BENCH_KEEP=1 keeps the scratch directory (with the .cpuprofile, for Chrome DevTools).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRegistry } from '../test/helpers/registry.ts';
import { timeCommand } from './support/measure.ts';
import { writeSmallApp } from './support/small-app.ts';
import { buildWithTbuild, TBUILD_BIN } from './support/tools.ts';

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function report(profile: CpuProfile): void {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) =>
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000),
  );
  const byModule = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const node of profile.nodes) {
    const ms = self.get(node.id) ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    const mod = !url ? '(native / gc / idle)' : url.replace(/^.*\/(lib|node_modules)\//, '$1/');
    byModule.set(mod, (byModule.get(mod) ?? 0) + ms);
    const fn = `${functionName || '(anonymous)'} ${mod}:${lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, ms]) => `  ${ms.toFixed(1).padStart(8)} ms  ${k}`)
      .join('\n');
  console.log(`profiled: ${((profile.endTime - profile.startTime) / 1000).toFixed(0)} ms`);
  console.log(
    `self time by module:\n${top(byModule, 15)}\nself time by function:\n${top(byFunction, 25)}`,
  );
}

const change = process.argv.includes('--change');
const push = process.argv.includes('--push');
const work = mkdtempSync(path.join(os.tmpdir(), 'tbuild-profile-ci-'));
const registry = await startRegistry();
try {
  const app = writeSmallApp(path.join(work, 'app'));
  const cacheRef = `${registry.host}/bench/fresh-ci:cache`;
  const seeded = await buildWithTbuild(path.join(work, 'seed'), app.dir, [
    '--cache-to',
    `type=registry,ref=${cacheRef},mode=max`,
  ]);
  console.log(`seed build: ${(seeded.ms / 1000).toFixed(2)} s`);
  if (change) app.changeSource(`changed ${Date.now()}`);
  const extra = ['--cache-from', `type=registry,ref=${cacheRef}`];
  if (push) extra.push('--push', '-t', `${registry.host}/bench/fresh-ci:app`);
  else extra.push('-t', 'tbuild-bench/fresh-ci:latest');
  const shown = await buildWithTbuild(path.join(work, 'fresh-1'), app.dir, extra);
  console.log(`fresh build: ${(shown.ms / 1000).toFixed(2)} s\n${shown.stderr}`);
  const profDir = path.join(work, 'prof');
  const profiled = await timeCommand(process.execPath, [
    '--cpu-prof',
    '--cpu-prof-dir',
    profDir,
    TBUILD_BIN,
    'build',
    '--root',
    path.join(work, 'fresh-2'),
    '--progress',
    'plain',
    ...extra,
    app.dir,
  ]);
  console.log(`profiled fresh build: ${(profiled.ms / 1000).toFixed(2)} s`);
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'))!;
  report(JSON.parse(readFileSync(path.join(profDir, file), 'utf8')) as CpuProfile);
  if (process.env.BENCH_KEEP === '1') console.log(`kept ${path.join(profDir, file)}`);
} finally {
  await registry.stop();
  if (process.env.BENCH_KEEP !== '1') rmSync(work, { recursive: true, force: true });
}
