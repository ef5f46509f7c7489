/**
 * The process as a command sees it: its streams, environment, working directory, and a
 * signal that Ctrl-C (SIGINT) or SIGTERM aborts. Commands take this instead of touching
 * `process`, so tests can run them in-process with streams of their own.
 */
import type { Readable, Writable } from 'node:stream';

export interface CliIO {
  stdin: Readable;
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean; columns?: number; rows?: number };
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  signal: AbortSignal;
  /** How the program was started, when it was (bin/tbuild.js): the up-to-date check's key. */
  invocation?: Invocation;
}

/** The program's command line and the file of the build's code (ADR 23). */
export interface Invocation {
  argv: readonly string[];
  codeFile: string;
}

/**
 * Run `fn` with the real process's streams and a signal tied to SIGINT and SIGTERM; the
 * handlers are removed when it ends, so a second Ctrl-C after that kills as usual.
 */
export async function withProcessIO<T>(fn: (io: CliIO) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await fn({
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      cwd: process.cwd(),
      signal: abort.signal,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
