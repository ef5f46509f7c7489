/**
 * Run the compiled tbuild CLI (`node bin/tbuild.js`, built by `npm run build`) as a user
 * would, and collect its exit status and output.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
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

/**
 * `tbuild build <args…>` in this process: the CLI's flag parsing and build command with
 * captured streams, the same result as runTbuild without starting node. Builds run against
 * real runc and stores as through the binary; only bin/ and main's dispatch are skipped
 * (runTbuild covers those).
 */
export async function runBuildInProcess(
  args: readonly string[],
  opts: RunTbuildOptions = {},
): Promise<RunTbuildResult> {
  const [{ parseBuildArgsFast, runBuildCommand }, { formatError }] = await Promise.all([
    import('../../src/cli/commands/build.ts'),
    import('../../src/cli/errors.ts'),
  ]);
  const out = capture();
  const err = capture();
  const abort = new AbortController();
  const timer =
    opts.timeoutMs === undefined ? undefined : setTimeout(() => abort.abort(), opts.timeoutMs);
  let code: number | null = 0;
  try {
    await runBuildCommand(await parseBuildArgsFast(args), {
      stdin: Readable.from(opts.input === undefined ? [] : [opts.input]),
      stdout: out.stream,
      stderr: err.stream,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      cwd: opts.cwd ?? REPO_ROOT,
      signal: abort.signal,
    });
  } catch (error) {
    const formatted = formatError(error);
    err.stream.write(formatted.text + '\n');
    code = abort.signal.aborted ? null : formatted.code;
  } finally {
    if (timer) clearTimeout(timer);
  }
  return { code, stdout: out.text(), stderr: err.text() };
}

function capture(): { stream: Writable; text(): string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}
