/**
 * A listing of the build context made by find(1) in a process of its own, so that the
 * kernel's stat work for 20,000 files runs on another core while tbuild loads its modules
 * and lowers the Dockerfile (ADR 0008). The output serves twice:
 *
 * - hashed, it tells whether anything changed since the last build (local-context.ts
 *   keeps checksums by that hash, so a no-op rebuild parses nothing);
 * - parsed, it is a TreeReader for the scan, in place of 20,000 lstat calls.
 *
 * find is an accelerator, never a requirement: when it is missing, fails, or reports any
 * error (an unreadable directory, a file vanishing mid-walk) the listing is "unavailable"
 * and the scan reads the disk itself, which reports such problems properly.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants as fsConstants,
  fstatSync,
  openSync,
  readSync,
  realpathSync,
  unlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createIgnoreMatcher } from '../../shared/dockerignore.ts';
import type { EntryStat, TreeReader } from './scan.ts';

/**
 * One record per entry: a marker (`-`, or `P` for a directory pruned by .dockerignore),
 * the fields in stat order, then the relative path and the symlink target, NUL-terminated
 * (names cannot contain NUL). Times are `seconds.nanoseconds`.
 */
const FIELDS = '%y %m %U %G %s %D %i %T@ %C@\\0%P\\0%l\\0';

/** Set TBUILD_CONTEXT_LISTER=walk to scan the disk in-process (for comparison or debugging). */
const DISABLED = process.env.TBUILD_CONTEXT_LISTER === 'walk';

export interface Listing {
  /** Absolute, symlink-resolved root that is listed. */
  readonly root: string;
  /** The .dockerignore patterns the listing was pruned with. */
  readonly patterns: readonly string[];
  /** find's raw output, or undefined when the listing is unavailable. */
  readonly output: Promise<Buffer | undefined>;
  /** Stop find if it is still running (the output then resolves to undefined). */
  cancel(): void;
}

/** A name find matches literally: no glob, quote or escape characters, no `.`/`..`. */
const LITERAL_SEGMENT = /^(?!\.\.?$)[A-Za-z0-9._@+-]+$/;

/**
 * find expressions for directories the scan would never enter, so that a large excluded
 * tree (node_modules) is not listed. Only exact translations are used: a literal path
 * (`node_modules`, `build/out`) or `**\/<literal name>`. With exception patterns (`!…`)
 * a literal path is pruned only when the matcher itself says the walk skips it (excluded,
 * and no exception reaches below it), and `**\/name` not at all.
 */
export function pruneExpression(patterns: readonly string[]): string[] {
  const exceptions = patterns.some((p) => p.trimStart().startsWith('!'));
  const matcher = exceptions ? createIgnoreMatcher(patterns) : undefined;
  const tests: string[][] = [];
  for (const pattern of patterns) {
    const segments = pattern.split('/');
    if (segments.length === 2 && segments[0] === '**' && LITERAL_SEGMENT.test(segments[1]!)) {
      if (!matcher) tests.push(['-name', segments[1]!]);
    } else if (
      segments.every((s) => LITERAL_SEGMENT.test(s)) &&
      (!matcher || (matcher.ignores(pattern) && !matcher.mayContainIncluded(pattern)))
    ) {
      tests.push(['-path', `./${pattern}`]);
    }
  }
  return tests.flatMap((test, i) => (i === 0 ? test : ['-o', ...test]));
}

function findArguments(patterns: readonly string[]): string[] {
  const prune = pruneExpression(patterns);
  const print = ['-printf', `-${FIELDS}`];
  if (prune.length === 0) return ['.', '-mindepth', '1', ...print];
  return [
    '.',
    '-mindepth',
    '1',
    '(',
    '(',
    ...prune,
    ')',
    '-type',
    'd',
    '-prune',
    '-printf',
    `P${FIELDS}`,
    ')',
    '-o',
    ...print,
  ];
}

function unavailable(root: string, patterns: readonly string[]): Listing {
  return { root, patterns, output: Promise.resolve(undefined), cancel() {} };
}

/**
 * An anonymous temporary file: created and unlinked at once, so it vanishes with the
 * last descriptor even if tbuild is killed.
 */
function anonymousFile(): number {
  const file = path.join(
    tmpdir(),
    `tbuild-listing-${process.pid}-${randomBytes(6).toString('hex')}`,
  );
  const fd = openSync(file, 'wx+', 0o600);
  unlinkSync(file);
  return fd;
}

function readWhole(fd: number): Buffer {
  const data = Buffer.allocUnsafe(fstatSync(fd).size);
  let done = 0;
  while (done < data.length) {
    const n = readSync(fd, data, done, data.length - done, done);
    if (n === 0) break;
    done += n;
  }
  return data.subarray(0, done);
}

/** Start listing `root` (find runs in the background; nothing here throws). */
export function startListing(root: string, patterns: readonly string[]): Listing {
  let realRoot: string;
  let fd: number;
  try {
    realRoot = realpathSync(root);
    if (DISABLED) return unavailable(realRoot, patterns);
    // find writes to a file, not a pipe: a pipe fills while the main thread is busy
    // loading modules, and find would wait for it instead of walking.
    fd = anonymousFile();
  } catch {
    return unavailable(root, patterns);
  }
  const child = spawn('find', findArguments(patterns), {
    cwd: realRoot,
    // The C locale keeps the decimal point of %T@ a dot.
    env: { ...process.env, LC_ALL: 'C' },
    stdio: ['ignore', fd, 'ignore'],
  });
  const output = new Promise<Buffer | undefined>((resolve) => {
    let settled = false;
    // 'error' and 'exit' may both come when find cannot be started: the file closes once.
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      try {
        resolve(ok ? readWhole(fd) : undefined);
      } catch {
        resolve(undefined);
      } finally {
        closeSync(fd);
      }
    };
    child.once('error', () => finish(false));
    child.once('exit', (code) => finish(code === 0));
  });
  return {
    root: realRoot,
    patterns,
    output,
    cancel() {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    },
  };
}

/** The output could not be read as a listing (a bug or an odd find); the scan reads the disk. */
export class ListingFormatError extends Error {}

/** find's %y letters as st_mode type bits. */
const TYPE_BITS: Record<string, number> = {
  f: fsConstants.S_IFREG,
  d: fsConstants.S_IFDIR,
  l: fsConstants.S_IFLNK,
  p: fsConstants.S_IFIFO,
  s: fsConstants.S_IFSOCK,
  c: fsConstants.S_IFCHR,
  b: fsConstants.S_IFBLK,
};

/** `seconds.nanoseconds` as Node's Stats gives it: sec * 1e3 + nsec / 1e6, the same double. */
function millisecondsOf(text: string): number {
  const dot = text.indexOf('.');
  if (text.startsWith('-') || dot < 1) throw new ListingFormatError(`odd time ${text}`);
  const nanoseconds = Number(text.slice(dot + 1, dot + 10).padEnd(9, '0'));
  return Number(text.slice(0, dot)) * 1e3 + nanoseconds / 1e6;
}

function numberOf(text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || text === '' || !Number.isInteger(n) || n < 0)
    throw new ListingFormatError(`odd number ${text}`);
  return n;
}

interface ListedEntry extends EntryStat {
  link: string;
}

/**
 * Read find's output as a tree. Parents precede children in find's pre-order, so every
 * entry's directory is known when the entry is read. Throws ListingFormatError.
 */
export function listingReader(output: Buffer): TreeReader {
  const text = output.toString('utf8');
  const entries = new Map<string, ListedEntry>();
  const children = new Map<string, string[]>([['', []]]);
  let pos = 0;
  while (pos < text.length) {
    const pathStart = text.indexOf('\0', pos) + 1;
    const linkStart = text.indexOf('\0', pathStart) + 1;
    const end = text.indexOf('\0', linkStart);
    if (pathStart === 0 || linkStart === 0 || end < 0) throw new ListingFormatError('torn record');
    const fields = text.slice(pos, pathStart - 1).split(' ');
    const rel = text.slice(pathStart, linkStart - 1);
    pos = end + 1;
    const marker = fields[0]![0];
    const typeBits = TYPE_BITS[fields[0]!.slice(1)];
    if (fields.length !== 9 || (marker !== '-' && marker !== 'P') || typeBits === undefined)
      throw new ListingFormatError(`odd record for ${rel}`);
    const slash = rel.lastIndexOf('/');
    const siblings = children.get(slash < 0 ? '' : rel.slice(0, slash));
    if (siblings === undefined) throw new ListingFormatError(`${rel} before its directory`);
    siblings.push(rel.slice(slash + 1));
    entries.set(rel, {
      mode: typeBits | parseInt(fields[1]!, 8),
      uid: numberOf(fields[2]),
      gid: numberOf(fields[3]),
      size: numberOf(fields[4]),
      dev: numberOf(fields[5]),
      ino: numberOf(fields[6]),
      mtimeMs: millisecondsOf(fields[7]!),
      ctimeMs: millisecondsOf(fields[8]!),
      link: text.slice(linkStart, end),
    });
    if (typeBits === TYPE_BITS.d && marker === '-') children.set(rel, []);
  }
  return {
    list(_abs, rel) {
      const names = children.get(rel);
      // Only a pruned directory is missing, and the walk never enters one (pruneExpression).
      if (names === undefined) throw new Error(`internal: ${rel} was pruned from the listing`);
      return names.sort();
    },
    lstat: (_abs, rel) => entries.get(rel),
    readlink: (_abs, rel) => entries.get(rel)!.link,
  };
}
