/**
 * Short host tools (mount, umount, getfattr, touch, runc kill…) started by a small
 * long-lived bash process instead of by this one. Node's spawn forks the whole process:
 * its cost grows with the heap (about 2 ms at 50 MB, 4–10 ms at a few hundred), and the
 * event loop waits for it. A RUN step runs about seven such tools, so in a long-lived
 * process (`tbuild watch`) the forks were a fifth of a small rebuild. bash forks in a
 * fraction of a millisecond (ADR 21).
 *
 * The server is in its own process group: Ctrl-C at the terminal does not reach it or the
 * tools it runs. They are short, and a cancelled build still needs its unmounts. Long
 * tools (cp -a of a tree, find, rm -rf) keep using spawn, so that Ctrl-C stops them.
 * Without bash, or once the server has failed, commands are spawned directly.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import {
  accessSync,
  constants,
  mkdtempSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface CommandResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

export interface CommandOptions {
  cwd?: string;
  /** Bytes for the tool's stdin (else it reads /dev/null). */
  input?: Buffer | string;
}

/**
 * Each request is NUL-separated: id, cwd, stdin file, PATH, argc, argv…; each reply a
 * line `id status`, or `id E` when the program is not found. Output goes to files in the
 * server's private directory ($1), named by id. The loop ends when this process closes
 * the pipe (or dies); the directory goes with it.
 */
const SERVER_SCRIPT = [
  'd=$1',
  "while IFS= read -r -d '' id && IFS= read -r -d '' cwd && IFS= read -r -d '' input &&",
  "  IFS= read -r -d '' path && IFS= read -r -d '' n; do",
  '  args=()',
  '  for ((i = 0; i < n; i++)); do IFS= read -r -d \'\' a; args+=("$a"); done',
  '  (',
  '    PATH=$path',
  '    if [ -n "$cwd" ] && ! cd -- "$cwd" 2>/dev/null; then echo "$id E"; exit; fi',
  '    if ! command -v -- "${args[0]}" >/dev/null 2>&1; then echo "$id E"; exit; fi',
  '    "${args[@]}" <"${input:-/dev/null}" >"$d/$id.out" 2>"$d/$id.err"',
  '    echo "$id $?"',
  '  ) &',
  'done',
  'wait',
  'rm -rf -- "$d"',
].join('\n');

interface Pending {
  file: string;
  resolve: (result: CommandResult) => void;
  reject: (error: Error) => void;
  input?: string;
}

class CommandServer {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #dir: string;
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  #dead = false;

  constructor(bash: string) {
    this.#dir = mkdtempSync(path.join(os.tmpdir(), 'tbuild-cmd-'));
    this.#child = spawn(bash, ['-c', SERVER_SCRIPT, 'tbuild-command-server', this.#dir], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    this.#child.stdin.on('error', () => undefined);
    this.#child.stderr.resume();
    createInterface({ input: this.#child.stdout }).on('line', (line) => this.#reply(line));
    this.#child.on('error', (error) => this.#fail(error));
    this.#child.on('exit', (code, signal) =>
      this.#fail(new Error(`the command server exited (${code ?? signal})`)),
    );
    this.#idle();
  }

  get dead(): boolean {
    return this.#dead;
  }

  run(file: string, args: readonly string[], options: CommandOptions): Promise<CommandResult> {
    const id = this.#next++;
    let input = '';
    if (options.input !== undefined) {
      input = path.join(this.#dir, `${id}.in`);
      writeFileSync(input, options.input);
    }
    const fields = [id, options.cwd ?? '', input, process.env.PATH ?? '', args.length + 1, file];
    const request = [...fields, ...args].map((f) => `${f}\0`).join('');
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) this.#busy();
      this.#pending.set(id, { file, resolve, reject, ...(input ? { input } : {}) });
      this.#child.stdin.write(request);
    });
  }

  #reply(line: string): void {
    const [idText, status] = line.split(' ');
    const id = Number(idText);
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#idle();
    const take = (suffix: string): Buffer => {
      const file = path.join(this.#dir, `${id}.${suffix}`);
      try {
        const bytes = readFileSync(file);
        unlinkSync(file);
        return bytes;
      } catch {
        return Buffer.alloc(0);
      }
    };
    if (pending.input) rmSync(pending.input, { force: true });
    if (status === 'E') {
      take('err');
      const error = Object.assign(new Error(`spawn ${pending.file} ENOENT`), {
        code: 'ENOENT',
        path: pending.file,
      });
      pending.reject(error);
      return;
    }
    pending.resolve({ code: Number(status), stdout: take('out'), stderr: take('err') });
  }

  /** Nothing pending: the server must not keep this process alive. */
  #idle(): void {
    this.#child.unref();
    for (const stream of [this.#child.stdin, this.#child.stdout, this.#child.stderr])
      (stream as unknown as { unref?: () => void }).unref?.();
  }

  #busy(): void {
    this.#child.ref();
    for (const stream of [this.#child.stdin, this.#child.stdout, this.#child.stderr])
      (stream as unknown as { ref?: () => void }).ref?.();
  }

  #fail(error: Error): void {
    if (this.#dead) return;
    this.#dead = true;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

let server: CommandServer | undefined;
let unavailable = process.env.TBUILD_COMMAND_SERVER === '0';

/** bash's path, or undefined; looked up once. */
function findBash(): string | undefined {
  for (const candidate of ['/bin/bash', '/usr/bin/bash']) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next
    }
  }
  return undefined;
}

/**
 * Run a short tool to completion and collect its output. A non-zero exit is returned as
 * `code` (128 + n for a signal); rejects only when the program cannot be started (an
 * error with code ENOENT, as spawn's).
 */
export function runShortCommand(
  file: string,
  args: readonly string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  if (!unavailable && (server === undefined || server.dead)) {
    const bash = findBash();
    if (bash === undefined) unavailable = true;
    else server = new CommandServer(bash);
  }
  if (unavailable || server === undefined) return spawnDirectly(file, args, options);
  return server.run(file, args, options);
}

/** The same contract, with Node's own spawn. */
export function spawnDirectly(
  file: string,
  args: readonly string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal === null ? 1 : 128 + (os.constants.signals[signal] ?? 1)),
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err),
      });
    });
    if (child.stdin) {
      // A tool that exits early closes stdin; its exit status tells what went wrong.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
  });
}
