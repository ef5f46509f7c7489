/**
 * Where a no-op rebuild's time goes: build the 20,000-file context once, then run the
 * no-change rebuild under `node --cpu-prof` and print self time by function and by
 * module, next to bare Node start-up and `tbuild --version` (module loading).
 *
 *   npm run build && node bench/profile-noop.ts [fileCount]
 *
 * BENCH_KEEP=1 keeps the scratch directory (with the .cpuprofile, for Chrome DevTools).
 */
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBusyboxImage } from '../test/helpers/base-images.ts';
import { writeBigContext } from './support/big-context.ts';
import { summarize, timeCommand } from './support/measure.ts';
import { buildWithTbuild, TBUILD_BIN } from './support/tools.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Self milliseconds per profile node id. */
function selfTimes(profile: CpuProfile): Map<number, number> {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return self;
}

/** A short module name: src/… for tbuild, the package for node_modules, node: for built-ins. */
function moduleOf(url: string): string {
  if (!url) return '(native / gc / idle)';
  if (url.startsWith('node:')) return 'node: built-ins';
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1)
    return `npm ${url
      .slice(nm + 13)
      .split('/')
      .slice(0, url.includes('/@', nm) ? 2 : 1)
      .join('/')}`;
  const lib = url.indexOf('/lib/');
  if (lib !== -1) return url.slice(lib + 1).replace(/^lib\//, 'src/');
  return url;
}

function top(entries: Map<string, number>, count: number): string[] {
  return [...entries.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, ms]) => `  ${ms.toFixed(1).padStart(8)} ms  ${name}`);
}

function report(profile: CpuProfile): void {
  const self = selfTimes(profile);
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  for (const node of profile.nodes) {
    const ms = self.get(node.id) ?? 0;
    if (!ms) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'} ${moduleOf(url)}:${lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + ms);
    byModule.set(moduleOf(url), (byModule.get(moduleOf(url)) ?? 0) + ms);
  }
  const total = (profile.endTime - profile.startTime) / 1000;
  console.log(`profiled main thread: ${total.toFixed(0)} ms\n\nself time by module:`);
  console.log(top(byModule, 20).join('\n'));
  console.log('\nself time by function:');
  console.log(top(byFunction, 30).join('\n'));
}

const files = Number(process.argv[2] ?? 20_000);
const work = mkdtempSync(path.join(os.tmpdir(), 'tbuild-profile-'));
try {
  const context = path.join(work, 'context');
  writeBigContext(
    context,
    'FROM localhost:5000/busybox:latest\nCOPY . /src\nRUN find /src | wc -l\n',
    {
      files,
      totalBytes: Math.round((316_000_000 * files) / 20_000),
    },
  );
  const store = path.join(work, 'store');
  await ensureBusyboxImage(store);
  console.log(`cold build: ${((await buildWithTbuild(store, context)).ms / 1000).toFixed(2)} s`);

  const times = async (cmd: string, args: string[]) => {
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) samples.push((await timeCommand(cmd, args)).ms);
    return summarize(samples);
  };
  const bare = await times(process.execPath, ['-e', '0']);
  const version = await times(process.execPath, [TBUILD_BIN, '--version']);
  const noop = await times(process.execPath, [
    TBUILD_BIN,
    'build',
    '--root',
    store,
    '--progress',
    'plain',
    context,
  ]);
  console.log(`node -e 0:             median ${bare.medianMs} ms (min ${bare.minMs})`);
  console.log(`tbuild --version:      median ${version.medianMs} ms (min ${version.minMs})`);
  console.log(`no-op rebuild:         median ${noop.medianMs} ms (min ${noop.minMs})`);

  const profDir = path.join(work, 'prof');
  await timeCommand(process.execPath, [
    '--cpu-prof',
    '--cpu-prof-dir',
    profDir,
    TBUILD_BIN,
    'build',
    '--root',
    store,
    '--progress',
    'plain',
    context,
  ]);
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'))!;
  report(JSON.parse(readFileSync(path.join(profDir, file), 'utf8')) as CpuProfile);
  if (process.env.BENCH_KEEP === '1') console.log(`\nkept ${path.join(profDir, file)}`);
} finally {
  if (process.env.BENCH_KEEP !== '1') rmSync(work, { recursive: true, force: true });
}
