/**
 * What the up-to-date check compares (ADR 23): the invocation (arguments, working
 * directory, environment, the build's code) and the local inputs' metadata (every entry
 * of the context the build reads, the Dockerfile, the ignore files), each a hash.
 *
 * Synchronous and free of node:crypto on purpose: the check runs before the build's
 * modules load, and OpenSSL's start alone is a tenth of the time it may take.
 */
import { lstatSync, readdirSync, statSync, type BigIntStats } from 'node:fs';
import {
  createIgnoreMatcher,
  ignoreFilesOf,
  parseDockerignore,
  readFirstIgnoreFile,
  type IgnoreMatcher,
} from '../../shared/dockerignore.ts';
import type { Invocation } from '../io.ts';

/** A context with more entries than this is not fingerprinted: its build is not memoized. */
export const MAX_CONTEXT_ENTRIES = 1000;

/**
 * Everything the build's result may depend on that is not a file or the store: the
 * command line as given, the file holding the build's code (its identity changes with
 * every build of tbuild), the working directory, the environment, and the user. For a
 * rootless build these are the invoking process's, outside the user namespace.
 */
export interface KeyedInvocation extends Invocation {
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  uid: number | undefined;
  gid: number | undefined;
}

/** The local files a build reads: the context directory, the Dockerfile. */
export interface InputPaths {
  contextDir: string;
  dockerfile: string;
}

/** The key of an invocation: a memo is found under it. */
export function invocationKey(invocation: KeyedInvocation): string {
  const env = Object.entries(invocation.env)
    // PWD naming the working directory says nothing more; and the shell that starts a
    // rootless build's re-run in its namespace adds it where the invoker had none.
    .filter(([name, value]) => value !== undefined && !(name === 'PWD' && value === invocation.cwd))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return hashText(
    JSON.stringify([
      invocation.argv,
      invocation.cwd,
      env,
      describeStat(statSync(invocation.codeFile, { bigint: true })),
      process.version,
      process.execArgv,
      invocation.uid,
      invocation.gid,
    ]),
  );
}

/** The local inputs' metadata, hashed, and how recent the latest change to them is. */
export interface InputsSignature {
  hash: string;
  /**
   * Until when a write could leave the same times (ms since the epoch): file times come
   * from a coarse clock, so a file changed in the same tick as the last change keeps its
   * times (git's "racy clean" problem; engine/context/scan.ts has the same margin). A
   * signature taken before this moment does not prove the content it saw.
   */
  settlesAt: number;
}

/**
 * A hash of the metadata of every entry of the context the build can read (names, types,
 * modes, sizes, modification and change times, inode numbers: a write or a chown changes the
 * change time even when it restores the modification time) and of the Dockerfile and the
 * ignore files. What .dockerignore excludes is left out as the build leaves it out (the
 * engine's own matcher: a `.git` or `node_modules` it excludes may change freely).
 * Undefined for a context of more than MAX_CONTEXT_ENTRIES entries.
 */
export function inputsSignature(paths: InputPaths): InputsSignature | undefined {
  const ignoreFiles = ignoreFilesOf(paths.dockerfile, paths.contextDir);
  const skip = skipper(createIgnoreMatcher(parseDockerignore(readFirstIgnoreFile(ignoreFiles))));
  // Counted first, cheaply (a few readdir calls): a large context is given up at once.
  if (countUpTo(paths.contextDir, '', skip, MAX_CONTEXT_ENTRIES) < 0) return undefined;
  const entries = listTree(Buffer.from(paths.contextDir), ['', ''], skip, []);
  if (entries === undefined || entries.length > MAX_CONTEXT_ENTRIES) return undefined;
  const walk = new Walk();
  for (const file of [paths.contextDir, paths.dockerfile, ...ignoreFiles])
    walk.lines.push(`${file}\0${walk.describePath(file)}`);
  for (const { full, rel } of entries) walk.describeEntry(full, rel);
  return { hash: hashText(walk.lines.join('\n')), settlesAt: walk.settlesAt() };
}

/** Whether the build's walk leaves out this path (relative, `/`-separated). */
type Skip = (rel: string, isDirectory: boolean) => boolean;

/** A directory is left out only when nothing below it can be included again. */
function skipper(matcher: IgnoreMatcher): Skip {
  if (matcher.empty) return () => false;
  return (rel, isDirectory) =>
    matcher.ignores(rel) && !(isDirectory && matcher.mayContainIncluded(rel));
}

/** `left` less the entries under `dir` that the build reads, or -1 below zero. */
function countUpTo(dir: string, prefix: string, skip: Skip, left: number): number {
  for (const dirent of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix + dirent.name;
    if (skip(rel, dirent.isDirectory())) continue;
    if (--left < 0) return -1;
    if (dirent.isDirectory()) left = countUpTo(`${dir}/${dirent.name}`, `${rel}/`, skip, left);
    if (left < 0) return -1;
  }
  return left;
}

interface TreeEntry {
  full: Buffer;
  /** The path under the context, its bytes as Latin-1 (a name need not be UTF-8). */
  rel: string;
}

/**
 * Every entry under `dir` the build reads, depth first in sorted order. `prefix` is the
 * path so far as Latin-1 (exact bytes) and as UTF-8 (what the matcher reads). A name that
 * is not UTF-8 is never left out: the matcher might read it otherwise than the engine.
 */
function listTree(
  dir: Buffer,
  prefix: readonly [latin1: string, utf8: string],
  skip: Skip,
  into: TreeEntry[],
): TreeEntry[] | undefined {
  const dirents = readdirSync(dir, { encoding: 'buffer', withFileTypes: true });
  dirents.sort((a, b) => Buffer.compare(a.name, b.name));
  for (const dirent of dirents) {
    const name8 = dirent.name.toString('utf8');
    const rel: [string, string] = [prefix[0] + dirent.name.toString('latin1'), prefix[1] + name8];
    const exact = Buffer.byteLength(name8) === dirent.name.length && !name8.includes('\uFFFD');
    if (exact && skip(rel[1], dirent.isDirectory())) continue;
    const full = Buffer.concat([dir, SLASH, dirent.name]);
    into.push({ full, rel: rel[0] });
    if (into.length > MAX_CONTEXT_ENTRIES) return undefined;
    if (dirent.isDirectory() && !listTree(full, [`${rel[0]}/`, `${rel[1]}/`], skip, into))
      return undefined;
  }
  return into;
}

class Walk {
  readonly lines: string[] = [];
  #newestChangeNs = 0n;
  /** A change time without a sub-second part: maybe a file system of whole seconds. */
  #wholeSeconds = false;

  settlesAt(): number {
    return Number(this.#newestChangeNs / 1_000_000n) + (this.#wholeSeconds ? 2000 : 50);
  }

  /** The path's own metadata and, for a symlink, its target's (or that it is absent). */
  describePath(file: string): string {
    const own = lstatSync(file, { bigint: true, throwIfNoEntry: false });
    if (own === undefined) return 'absent';
    if (!own.isSymbolicLink()) return this.#describe(own);
    const target = statSync(file, { bigint: true, throwIfNoEntry: false });
    return `${this.#describe(own)} -> ${target ? this.#describe(target) : 'absent'}`;
  }

  /** An entry's own metadata (a symlink is not followed: the build copies the link). */
  describeEntry(full: Buffer, rel: string): void {
    this.lines.push(`${rel}\0${this.#describe(lstatSync(full, { bigint: true }))}`);
  }

  #describe(st: BigIntStats): string {
    if (st.ctimeNs > this.#newestChangeNs) this.#newestChangeNs = st.ctimeNs;
    if (st.ctimeNs % 1_000_000_000n === 0n) this.#wholeSeconds = true;
    return describeStat(st);
  }
}

const SLASH = Buffer.from('/');

/**
 * Not the owner: a chown moves the change time anyway, and a rootless build's check, run
 * outside its user namespace, sees owners the namespace does not map otherwise than the
 * build inside it does (root's files are root's outside, nobody's inside).
 */
function describeStat(st: BigIntStats): string {
  return [st.dev, st.ino, st.mode, st.size, st.mtimeNs, st.ctimeNs].join(':');
}

/**
 * A 128-bit hash (four 32-bit lanes of a multiply-xorshift mix over UTF-16 code units),
 * as hex. For noticing change, not for resisting an adversary: whoever can write the
 * inputs can change the build anyway.
 */
export function hashText(text: string): string {
  let h1 = 0x9e3779b9 ^ text.length;
  let h2 = 0x85ebca6b;
  let h3 = 0xc2b2ae35;
  let h4 = 0x27d4eb2f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x9e3779b1);
    h2 = Math.imul(h2 ^ c, 0x85ebca77);
    h3 = Math.imul(h3 ^ c, 0xc2b2ae3d);
    h4 = Math.imul(h4 ^ c, 0x165667b1);
    h1 ^= h4 >>> 15;
    h2 ^= h1 >>> 13;
    h3 ^= h2 >>> 16;
    h4 ^= h3 >>> 11;
  }
  const finish = (h: number, k: number): string => {
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b ^ k);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return ((h ^ (h >>> 16)) >>> 0).toString(16).padStart(8, '0');
  };
  return finish(h1, 1) + finish(h2, 2) + finish(h3, 3) + finish(h4, 4);
}
