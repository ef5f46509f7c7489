/**
 * mount(2) and umount2(2) without a process per call (ADR 22). Node has neither system
 * call, and mount(8) or umount(8) costs ~2.5 ms from a build's process: a fork of the
 * whole process, then the tool. A COPY then a RUN make four of them. One Perl process per
 * tbuild process makes the two calls on request instead, in ~0.3 ms. Perl because every
 * Debian and Ubuntu system has it (perl-base is Essential) and it calls a system call by
 * number.
 *
 * Each call resolves with 0, the errno of a failure, or `undefined` when the helper cannot
 * serve it (no perl, an architecture whose numbers are not listed here, a helper that
 * died): callers then run mount(8) or umount(8) as before, and for any failure too, so
 * errors keep mount(8)'s words.
 *
 * The helper waits on its stdin and ends when it closes, with tbuild. It runs in its own
 * process group, so a Ctrl-C at the terminal does not take it before the mounts of a
 * cancelled build are undone, and it does not keep an idle tbuild alive.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';

/** [mount, umount2] system call numbers. */
const SYSCALLS: Partial<Record<NodeJS.Architecture, readonly [number, number]>> = {
  x64: [165, 166],
  arm64: [40, 39],
  riscv64: [40, 39],
  loong64: [40, 39],
  arm: [21, 52],
  ia32: [21, 52],
  ppc64: [21, 52],
  s390x: [21, 52],
};

/**
 * One request per line: fields separated by NUL (`mount`, id, cwd, type, source, target,
 * data; or `umount`, id, target, flags). One reply per line: `id errno`, 0 for success.
 * A field read from the line is a string, which syscall() passes as a pointer; `+ 0` makes
 * the flags a number, passed as an int. After a mount the helper goes back to `/`, so its
 * working directory does not keep a store's file system busy.
 */
const SCRIPT = `use strict; use warnings;
$| = 1;
my ($sys_mount, $sys_umount2) = @ARGV;
while (my $line = <STDIN>) {
  chomp $line;
  my ($op, $id, @f) = split /\\0/, $line, -1;
  my $r = -1;
  $! = 22;
  if ($op eq 'mount' && @f == 5) {
    my ($cwd, $type, $source, $target, $data) = @f;
    $r = syscall($sys_mount, $source, $target, $type, 0, $data) if chdir $cwd;
    my $errno = $! + 0;
    chdir '/';
    $! = $errno;
  } elsif ($op eq 'umount' && @f == 2) {
    $r = syscall($sys_umount2, $f[0], $f[1] + 0);
  }
  print $id, ' ', ($r == -1 ? $! + 0 : 0), "\\n";
}`;

type Reply = (errno: number | undefined) => void;

interface Helper {
  child: ChildProcessByStdio<Writable, Readable, null>;
  /** The child's stdout, a pipe: referenced while a reply is due. */
  replies: Socket;
  pending: Map<number, Reply>;
}

let helper: Helper | undefined;
/** The helper could not start or died: mount(8) and umount(8) from then on. */
let unavailable = false;
let nextId = 0;

function startHelper(): Helper | undefined {
  if (helper !== undefined || unavailable) return helper;
  const numbers = SYSCALLS[process.arch];
  if (numbers === undefined) {
    unavailable = true;
    return undefined;
  }
  const child = spawn('perl', ['-e', SCRIPT, ...numbers.map(String)], {
    stdio: ['pipe', 'pipe', 'ignore'],
    detached: true,
  });
  const replies = child.stdout as Readable as Socket;
  const started: Helper = { child, replies, pending: new Map() };
  const fail = () => {
    if (helper === started) {
      helper = undefined;
      unavailable = true;
    }
    for (const reply of started.pending.values()) reply(undefined);
    started.pending.clear();
  };
  child.on('error', fail);
  child.on('exit', fail);
  child.stdin.on('error', fail);
  let buffered = '';
  replies.setEncoding('utf8').on('data', (text: string) => {
    buffered += text;
    for (let end = buffered.indexOf('\n'); end !== -1; end = buffered.indexOf('\n')) {
      const [id, errno] = buffered.slice(0, end).split(' ');
      buffered = buffered.slice(end + 1);
      const reply = started.pending.get(Number(id));
      started.pending.delete(Number(id));
      reply?.(Number(errno));
    }
    if (started.pending.size === 0) replies.unref();
  });
  child.unref();
  (child.stdin as Writable as Socket).unref();
  replies.unref();
  helper = started;
  return started;
}

function request(fields: readonly string[]): Promise<number | undefined> {
  // The protocol cannot carry these; no store path has them, but the tools can.
  if (fields.some((field) => /[\n\0]/.test(field))) return Promise.resolve(undefined);
  const running = startHelper();
  if (running === undefined) return Promise.resolve(undefined);
  const id = nextId++;
  return new Promise((resolve) => {
    running.pending.set(id, resolve);
    running.replies.ref(); // the reply must come before the process may end
    running.child.stdin.write(`${[fields[0], String(id), ...fields.slice(1)].join('\0')}\n`);
  });
}

/** mount(2) of a `type` file system from `source` at `target` with `data`, in `cwd`. */
export function mountSyscall(
  cwd: string,
  type: string,
  source: string,
  target: string,
  data: string,
): Promise<number | undefined> {
  return request(['mount', cwd, type, source, target, data]);
}

/** umount2(2) of `target`. */
export function umountSyscall(target: string, flags = 0): Promise<number | undefined> {
  return request(['umount', target, String(flags)]);
}

/** End the helper; the next call starts another (tests). */
export function stopMountHelper(): void {
  helper?.child.stdin.end();
  helper = undefined;
  unavailable = false;
}
