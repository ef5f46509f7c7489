/**
 * Run the compiled tbuild CLI (`node bin/tbuild.js`, built by `npm run build`) as a user
 * would, and collect its exit status and output.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (test/helpers/../..). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The CLI entry point. */
export const TBUILD_BIN = path.join(REPO_ROOT, 'bin/tbuild.js');

export interface RunTbuildOptions {
  cwd?: string;
  /** Extra environment variables, merged over the current environment. */
  env?: Record<string, string | undefined>;
  /** Written to standard input, which is then closed. */
  input?: string | Buffer;
  /** Kill the process (SIGKILL) after this long; the result then has code null. */
  timeoutMs?: number;
}

export interface RunTbuildResult {
  /** Exit status, or null when the process was killed by a signal or the timeout. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `tbuild <args…>` to completion. Never rejects on a non-zero exit: check `code`. */
export function runTbuild(
  args: readonly string[],
  opts: RunTbuildOptions = {},
): Promise<RunTbuildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TBUILD_BIN, ...args], {
      cwd: opts.cwd ?? REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (error) => {
      if (timer) clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    // A CLI that exits without reading stdin closes the pipe: that is not our failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
