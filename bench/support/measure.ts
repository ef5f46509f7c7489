/**
 * Timing helpers: run a command as a user would (whole process wall time, including
 * start-up), fail loudly with its output when it exits non-zero, and summarize samples.
 */
import { spawn } from 'node:child_process';

export interface CommandResult {
  ms: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** Run `cmd args…` to completion and return its wall time; rejects on a non-zero exit. */
export function timeCommand(
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(cmd, args, {
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
      if (code === 0) return resolve({ ms, stdout, stderr });
      const tail = `${stdout}\n${stderr}`.trim().split('\n').slice(-25).join('\n');
      reject(
        new Error(
          `${cmd} ${args.join(' ')} failed (${code === null ? `signal ${String(signal)}` : `exit ${code}`}):\n${tail}`,
        ),
      );
    });
  });
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
