/**
 * tbuild against Docker's BuildKit, side by side on this machine: each scenario runs
 * both tools alternately, BENCH_RUNS times each (default 5), and reports median and
 * minimum wall times with the ratio tbuild / BuildKit. Without a Docker daemon, tbuild
 * runs alone and the comparison is reported as skipped.
 *
 *   npm run bench                       # everything (~10 minutes on 2 cores)
 *   BENCH_RUNS=3 BENCH_ONLY=context-20k,push npm run bench
 *
 * Environment: BENCH_RUNS, BENCH_ONLY (comma-separated scenario names), BENCH_NO_DOCKER=1,
 * BENCH_KEEP=1 (keep the scratch directory), BENCH_DIR (where to make it), BENCH_FILES,
 * BENCH_IMAGE_MB, BENCH_HASH_BYTES (smaller scenarios for a quick try), DOCKER.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureBusyboxImage, makeBusyboxRootfsTar } from '../test/helpers/base-images.ts';
import { formatTable, writeReport } from './support/report.ts';
import type { Report } from './support/report.ts';
import { probeDocker, REPO_ROOT, runDocker } from './support/tools.ts';
import type { Tool } from './support/tools.ts';
import type { BenchEnv, Row, Scenario } from './support/types.ts';
import { exportArchive, pushImage } from './scenarios/big-image.ts';
import { freshCi } from './scenarios/fresh-ci.ts';
import { contextRebuild } from './scenarios/noop-rebuild.ts';
import { parallelStages } from './scenarios/parallel-stages.ts';
import { smallApp } from './scenarios/small-app.ts';
import { watchLatency } from './scenarios/watch-latency.ts';

const SCENARIOS: Scenario[] = [
  contextRebuild,
  smallApp,
  parallelStages,
  exportArchive,
  pushImage,
  watchLatency,
  freshCi,
];

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function uptime(): string {
  return execFileSync('uptime', { encoding: 'utf8' }).trim();
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    }).trim();
  } catch (error) {
    return `unknown (${(error as Error).message.split('\n')[0]})`;
  }
}

function selectScenarios(): Scenario[] {
  const only = process.env.BENCH_ONLY?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!only?.length) return SCENARIOS;
  const unknown = only.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length)
    throw new Error(
      `unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`,
    );
  return SCENARIOS.filter((s) => only.includes(s.name));
}

/** Remove the images the Docker side tagged, so repeated runs do not pile them up. */
async function cleanDocker(): Promise<void> {
  const { stdout } = await runDocker([
    'images',
    '--format',
    '{{.Repository}}:{{.Tag}}',
    'tbuild-bench/*',
  ]);
  const tags = stdout.split('\n').filter(Boolean);
  if (tags.length) await runDocker(['rmi', '-f', ...tags]);
}

async function main(): Promise<void> {
  const started = performance.now();
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`BENCH_RUNS must be a positive integer, not ${process.env.BENCH_RUNS}`);
  const scenarios = selectScenarios();
  const uptimeBefore = uptime();
  log(uptimeBefore);
  const docker = await probeDocker();
  const tools: Tool[] = docker.ok ? ['tbuild', 'buildkit'] : ['tbuild'];
  if (!docker.ok) log(`Docker does not answer (${docker.why}): comparison skipped, tbuild only`);

  const work = mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'tbuild-bench-'));
  const rootfsTar = path.join(work, 'busybox-rootfs.tar');
  await makeBusyboxRootfsTar(rootfsTar);
  const env: BenchEnv = {
    work,
    runs,
    tools,
    log,
    async newStore(name) {
      const root = path.join(work, `store-${name}`);
      await ensureBusyboxImage(root, { rootfsTar });
      return root;
    },
    async removeStore(root) {
      await rm(root, { recursive: true, force: true });
    },
  };
  const rows: Row[] = [];
  try {
    for (const scenario of scenarios) {
      log(`== ${scenario.name}: ${scenario.describe}`);
      rows.push(...(await scenario.run(env)));
    }
  } finally {
    if (docker.ok) await cleanDocker();
    if (process.env.BENCH_KEEP === '1') log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }

  const report: Report = {
    date: new Date().toISOString(),
    commit: gitCommit(),
    machine: {
      cpus: os.availableParallelism(),
      node: process.version,
      ...(docker.ok ? { docker: docker.version } : {}),
      uptimeBefore,
      uptimeAfter: uptime(),
    },
    runsPerCase: runs,
    comparison: docker.ok ? 'tbuild vs BuildKit' : 'tbuild only',
    ...(docker.ok ? {} : { skippedBecause: docker.why }),
    totalSeconds: Math.round((performance.now() - started) / 100) / 10,
    rows,
  };
  const file = path.join(REPO_ROOT, 'bench/results/latest.json');
  await writeReport(file, report);
  console.log(formatTable(rows));
  console.log(
    `\nmedian (min) wall seconds over ${runs} runs; ratio = tbuild / BuildKit medians.` +
      (docker.ok ? '' : `\nBuildKit comparison skipped: ${docker.why}`),
  );
  console.log(`load: before "${uptimeBefore}", after "${report.machine.uptimeAfter}"`);
  console.log(`total ${report.totalSeconds} s; JSON in ${path.relative(process.cwd(), file)}`);
}

await main();
