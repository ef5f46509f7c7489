/**
 * A small promise wrapper around child_process.spawn for the short host tools the
 * executor calls (mount, umount, runc kill/delete). Output is collected, never printed.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run `file args…` to completion and collect its output. Rejects only when the program
 * cannot be spawned (ENOENT, EACCES); a non-zero exit is returned as `code`. Standard
 * output is decoded as `stdoutEncoding` (UTF-8 by default; `latin1` keeps every byte as
 * one character, for output that carries raw file names).
 */
export function runCommand(
  file: string,
  args: readonly string[],
  options: { cwd?: string; stdoutEncoding?: BufferEncoding } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal === null ? 1 : 128 + signalNumber(signal)),
        stdout: Buffer.concat(out).toString(options.stdoutEncoding ?? 'utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

/** The number of a signal, for shell-style exit codes (128 + n). */
export function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal] ?? 1;
}

/** Resolve after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
