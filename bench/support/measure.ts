/**
 * Timing helpers: run a command as a user would (whole process wall time, including
 * start-up), fail loudly with its output when it exits non-zero, and summarize samples.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface CommandResult {
  ms: number;
  stdout: string;
  stderr: string;
  /** Peak resident set size of the process, when asked for and GNU time is there. */
  peakRssKb?: number;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Measure the process's peak RSS through GNU time (/usr/bin/time -f %M). */
  peakRss?: boolean;
}

const GNU_TIME = '/usr/bin/time';

/** Run `cmd args…` to completion and return its wall time; rejects on a non-zero exit. */
export function timeCommand(
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<CommandResult> {
  const rssFile =
    opts.peakRss && existsSync(GNU_TIME)
      ? path.join(tmpdir(), `tbuild-bench-rss-${process.pid}-${++rssRuns}`)
      : undefined;
  const [program, argv] =
    rssFile === undefined
      ? [cmd, args]
      : [GNU_TIME, ['-f', '%M', '-o', rssFile, '--', cmd, ...args]];
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(program, argv, {
      cwd: opts.cwd,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = performance.now() - start;
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      const peakRssKb = rssFile === undefined ? undefined : readRss(rssFile);
      if (code === 0) return resolve({ ms, stdout, stderr, ...(peakRssKb && { peakRssKb }) });
      const tail = `${stdout}\n${stderr}`.trim().split('\n').slice(-25).join('\n');
      reject(
        new Error(
          `${cmd} ${args.join(' ')} failed (${code === null ? `signal ${String(signal)}` : `exit ${code}`}):\n${tail}`,
        ),
      );
    });
  });
}

let rssRuns = 0;

/** GNU time's %M (kilobytes), removing its file; undefined when it wrote none. */
function readRss(file: string): number | undefined {
  try {
    const kb = Number(readFileSync(file, 'utf8').trim().split('\n').pop());
    return Number.isFinite(kb) && kb > 0 ? kb : undefined;
  } catch {
    return undefined;
  } finally {
    rmSync(file, { force: true });
  }
}

/** Time an async function (for in-process steps such as registry start-up). */
export async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

export interface Stats {
  runs: number;
  medianMs: number;
  minMs: number;
  samplesMs: number[];
}

/** Median (mean of the middle two for even counts) and minimum of the samples. */
export function summarize(samplesMs: readonly number[]): Stats {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const medianMs = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return {
    runs: sorted.length,
    medianMs: round(medianMs),
    minMs: round(sorted[0]!),
    samplesMs: samplesMs.map(round),
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/**
 * Run `runs` rounds; each round runs every tool once, alternating which goes first, so
 * that load from other users of the machine spreads over both tools. `measure` returns
 * the milliseconds to record, so it can leave its own set-up out of the figure.
 */
export async function alternate<T extends string>(
  runs: number,
  tools: readonly T[],
  measure: (tool: T, round: number) => Promise<number>,
): Promise<Record<T, number[]>> {
  const samples = Object.fromEntries(tools.map((t) => [t, [] as number[]])) as Record<T, number[]>;
  for (let round = 0; round < runs; round++) {
    const order = round % 2 === 0 ? tools : [...tools].reverse();
    for (const tool of order) samples[tool].push(await measure(tool, round));
  }
  return samples;
}
