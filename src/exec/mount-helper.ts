/**
 * mount(2) and umount2(2) without a process per call (ADR 22). Node has neither system
 * call, and mount(8) or umount(8) costs ~2.5 ms from a build's process: a fork of the
 * whole process, then the tool. A COPY then a RUN make four of them. One Perl process per
 * tbuild process makes the two calls on request instead, in ~0.3 ms. Perl because every
 * Debian and Ubuntu system has it (perl-base is Essential) and it calls a system call by
 * number. It also reads a small tree's extended attributes (llistxattr(2), lgetxattr(2)),
 * which would otherwise be a `getfattr -R` per new layer, and sets a time with nanoseconds
 * (utimensat(2)), which would otherwise be a `touch`.
 *
 * Each call resolves with 0, the errno of a failure, or `undefined` when the helper cannot
 * serve it (no perl, an architecture whose numbers are not listed here, a helper that
 * died): callers then run mount(8) or umount(8) as before, and for any failure too, so
 * errors keep mount(8)'s words. An attribute read or a time the helper cannot serve or
 * that fails is `undefined` too, and the caller runs getfattr or touch.
 *
 * The helper waits on its stdin and ends when it closes, with tbuild. It runs in its own
 * process group, so a Ctrl-C at the terminal does not take it before the mounts of a
 * cancelled build are undone, and it does not keep an idle tbuild alive.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { XattrMap } from '../shared/xattr-dump.ts';

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
 * [llistxattr, lgetxattr, utimensat] system call numbers, on 64-bit architectures whose
 * tables this file has been checked against (a timespec is two 64-bit words there);
 * elsewhere getfattr and touch do these as before.
 */
const FILE_SYSCALLS: Partial<Record<NodeJS.Architecture, readonly [number, number, number]>> = {
  x64: [195, 192, 280],
  arm64: [12, 9, 88],
  riscv64: [12, 9, 88],
  loong64: [12, 9, 88],
};

/**
 * One request per line: fields separated by NUL (`mount`, id, cwd, type, source, target,
 * data; `umount`, id, target, flags; `xattrs`, id, dir, limit; or `utimes`, id, path,
 * seconds, nanoseconds: atime and mtime, the path itself if a symlink). One reply per line:
 * `id errno`, 0 for success, and for `xattrs` a third field, the attributes (below).
 * A field read from the line is a string, which syscall() passes as a pointer; `+ 0` makes
 * a number, passed as an int (a literal 0 is a null pointer). After a mount the helper
 * goes back to `/`, so its working directory does not keep a store's file system busy.
 *
 * `xattrs` walks `dir` without following symlinks, as `getfattr -R -h` does, and stops
 * with E2BIG past `limit` entries: a mount waits while it walks. Its field is a
 * space-separated record per path that has attributes, `hexpath:hexname=hexvalue,…`; hex
 * carries any byte of a path, name or value. Sizes are asked first (a size of 0 reads
 * none), so a file without attributes costs one system call; nothing writes to a
 * committed layer, so a size cannot grow in between (if it did: ERANGE, and getfattr).
 */
const SCRIPT = `use strict; use warnings;
$| = 1;
my ($sys_mount, $sys_umount2, $sys_llistxattr, $sys_lgetxattr, $sys_utimensat) = @ARGV;
sub attrs {
  my ($p) = @_;
  my $size = syscall($sys_llistxattr, $p, 0, 0);
  return undef if $size == -1;
  return '' if $size == 0;
  my $list = "\\0" x $size;
  my $n = syscall($sys_llistxattr, $p, $list, $size + 0);
  return undef if $n == -1;
  my @pairs;
  for my $name (split /\\0/, substr($list, 0, $n)) {
    next if $name eq '';
    my $vsize = syscall($sys_lgetxattr, $p, $name, 0, 0);
    return undef if $vsize == -1;
    my $value = '';
    if ($vsize > 0) {
      $value = "\\0" x $vsize;
      my $got = syscall($sys_lgetxattr, $p, $name, $value, $vsize + 0);
      return undef if $got == -1;
      $value = substr($value, 0, $got);
    }
    push @pairs, unpack('H*', $name) . '=' . unpack('H*', $value);
  }
  return join ',', @pairs;
}
sub tree {
  my ($dir, $limit) = @_;
  my @stack = ($dir);
  my @records;
  my $count = 0;
  while (defined(my $p = pop @stack)) {
    if (++$count > $limit) { $! = 7; return undef; }
    my $found = attrs($p);
    return undef unless defined $found;
    push @records, unpack('H*', $p) . ':' . $found if $found ne '';
    lstat $p or return undef;
    next unless -d _;
    opendir(my $dh, $p) or return undef;
    push @stack, map { "$p/$_" } grep { $_ ne '.' && $_ ne '..' } readdir $dh;
    closedir $dh;
  }
  return join ' ', @records;
}
while (my $line = <STDIN>) {
  chomp $line;
  my ($op, $id, @f) = split /\\0/, $line, -1;
  my $r = -1;
  my $out;
  $! = 22;
  if ($op eq 'mount' && @f == 5) {
    my ($cwd, $type, $source, $target, $data) = @f;
    $r = syscall($sys_mount, $source, $target, $type, 0, $data) if chdir $cwd;
    my $errno = $! + 0;
    chdir '/';
    $! = $errno;
  } elsif ($op eq 'umount' && @f == 2) {
    $r = syscall($sys_umount2, $f[0], $f[1] + 0);
  } elsif ($op eq 'xattrs' && @f == 2 && $sys_lgetxattr) {
    $out = tree($f[0], $f[1] + 0);
    $r = 0 if defined $out;
  } elsif ($op eq 'utimes' && @f == 3 && $sys_utimensat) {
    my $times = pack('q4', $f[1], $f[2], $f[1], $f[2]);
    # AT_FDCWD, AT_SYMLINK_NOFOLLOW
    $r = syscall($sys_utimensat, -100, $f[0], $times, 0x100);
  }
  print $id, ' ', ($r == -1 ? $! + 0 : 0), (defined $out ? " $out" : ''), "\\n";
}`;

type Reply = (errno: number | undefined, payload?: string) => void;

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
  const fileNumbers = FILE_SYSCALLS[process.arch] ?? [0, 0, 0];
  const child = spawn('perl', ['-e', SCRIPT, ...[...numbers, ...fileNumbers].map(String)], {
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
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      const [id, errno] = line.split(' ', 2);
      const reply = started.pending.get(Number(id));
      started.pending.delete(Number(id));
      const payloadAt = line.indexOf(' ', id!.length + 1);
      reply?.(Number(errno), payloadAt === -1 ? undefined : line.slice(payloadAt + 1));
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
  return requestWithPayload(fields).then((reply) => reply?.errno);
}

function requestWithPayload(
  fields: readonly string[],
): Promise<{ errno: number; payload: string | undefined } | undefined> {
  // The protocol cannot carry these; no store path has them, but the tools can.
  if (fields.some((field) => /[\n\0]/.test(field))) return Promise.resolve(undefined);
  const running = startHelper();
  if (running === undefined) return Promise.resolve(undefined);
  const id = nextId++;
  return new Promise((resolve) => {
    running.pending.set(id, (errno, payload) =>
      resolve(errno === undefined ? undefined : { errno, payload }),
    );
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

/**
 * Every extended attribute under `dir` (not following symlinks), keyed by absolute path,
 * as `getfattr -R -h -m -` gives them; `undefined` when the helper cannot read them (not
 * on this architecture, no perl, a failure, more than `limit` entries): run getfattr.
 */
export async function readXattrTree(dir: string, limit: number): Promise<XattrMap | undefined> {
  if (FILE_SYSCALLS[process.arch] === undefined) return undefined;
  const reply = await requestWithPayload(['xattrs', dir, String(limit)]);
  if (reply === undefined || reply.errno !== 0) return undefined;
  const map: XattrMap = new Map();
  for (const record of (reply.payload ?? '').split(' ')) {
    if (record === '') continue;
    const colon = record.indexOf(':');
    const attrs = new Map<string, Buffer>();
    for (const pair of record.slice(colon + 1).split(',')) {
      const eq = pair.indexOf('=');
      attrs.set(fromHex(pair.slice(0, eq)), Buffer.from(pair.slice(eq + 1), 'hex'));
    }
    map.set(fromHex(record.slice(0, colon)), attrs);
  }
  return map;
}

/**
 * utimensat(2) of `path` (not following a symlink): atime and mtime both `seconds` and
 * `nanoseconds`, as `touch -h -d @S.N` sets them. 0, an errno, or `undefined` (run touch).
 */
export function setTimesSyscall(
  path: string,
  seconds: bigint,
  nanoseconds: bigint,
): Promise<number | undefined> {
  if (FILE_SYSCALLS[process.arch] === undefined) return Promise.resolve(undefined);
  return request(['utimes', path, String(seconds), String(nanoseconds)]);
}

/** Paths and names as getfattr's are decoded (shared/xattr-dump.ts): bytes read as UTF-8. */
function fromHex(hex: string): string {
  return Buffer.from(hex, 'hex').toString('utf8');
}

/**
 * Start the helper now, for mounts and attribute reads about to come: Perl takes ~4 ms to
 * start, and the first request waits for it. Nothing happens if it runs or cannot.
 */
export function warmMountHelper(): void {
  startHelper();
}

/** End the helper; the next call starts another (tests). */
export function stopMountHelper(): void {
  helper?.child.stdin.end();
  helper = undefined;
  unavailable = false;
}
