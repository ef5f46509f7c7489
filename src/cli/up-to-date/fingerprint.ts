/**
 * What the up-to-date check compares (ADR 23): the invocation (arguments, working
 * directory, environment, the build's code) and the local inputs' metadata (every entry
 * of the context, the Dockerfile and its ignore file), each reduced to a hash.
 *
 * Synchronous and free of node:crypto on purpose: the check runs before the build's
 * modules load, and OpenSSL's start alone is a tenth of the time it may take.
 */
import { lstatSync, readdirSync, statSync, type BigIntStats } from 'node:fs';

/** A context with more entries than this is not fingerprinted: its build is not memoized. */
export const MAX_CONTEXT_ENTRIES = 1000;

/** Everything the build's result may depend on that is not a file or the store. */
export interface Invocation {
  /** The command line's arguments, as given (before any reordering). */
  argv: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  /** The file holding the build's code (its identity changes with every build of tbuild). */
  codeFile: string;
}

/** The local files a build reads: the context directory, the Dockerfile. */
export interface InputPaths {
  contextDir: string;
  dockerfile: string;
}

/** The key of an invocation: a memo is found under it. */
export function invocationKey(invocation: Invocation): string {
  const env = Object.entries(invocation.env)
    .filter(([, value]) => value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return hashText(
    JSON.stringify([
      invocation.argv,
      invocation.cwd,
      env,
      describeStat(statSync(invocation.codeFile, { bigint: true })),
      process.version,
      process.execArgv,
      process.getuid?.(),
      process.getgid?.(),
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
 * A hash of the metadata of every entry under the context (names, types, modes, owners,
 * sizes, modification and change times, inode numbers: a write changes the change time
 * even when it restores the modification time) and of the Dockerfile and its ignore file.
 * Undefined for a context of more than MAX_CONTEXT_ENTRIES entries.
 */
export function inputsSignature(paths: InputPaths): InputsSignature | undefined {
  // Counted first, cheaply (a few readdir calls): a large context is given up at once.
  if (countUpTo(paths.contextDir, MAX_CONTEXT_ENTRIES) < 0) return undefined;
  const entries = listTree(Buffer.from(paths.contextDir), '', [], MAX_CONTEXT_ENTRIES);
  if (entries === undefined) return undefined;
  const walk = new Walk();
  for (const file of [paths.contextDir, paths.dockerfile, `${paths.dockerfile}.dockerignore`])
    walk.lines.push(`${file}\0${walk.describePath(file)}`);
  for (const { full, rel } of entries) walk.describeEntry(full, rel);
  return { hash: hashText(walk.lines.join('\n')), settlesAt: walk.settlesAt() };
}

/**
 * `left` less the entries under `dir`, or -1 once that goes below zero. By UTF-8 names: a
 * directory whose name is not UTF-8 is not found again (an error, so no memo).
 */
function countUpTo(dir: string, left: number): number {
  const dirents = readdirSync(dir, { withFileTypes: true });
  left -= dirents.length;
  for (const dirent of dirents) {
    if (left < 0) return -1;
    if (dirent.isDirectory()) left = countUpTo(`${dir}/${dirent.name}`, left);
  }
  return left < 0 ? -1 : left;
}

interface TreeEntry {
  full: Buffer;
  /** The path under the context, its bytes as Latin-1 (a name need not be UTF-8). */
  rel: string;
}

/** Every entry under `dir`, depth first in sorted order; undefined past `max` entries. */
function listTree(
  dir: Buffer,
  prefix: string,
  into: TreeEntry[],
  max: number,
): TreeEntry[] | undefined {
  const dirents = readdirSync(dir, { encoding: 'buffer', withFileTypes: true });
  if (into.length + dirents.length > max) return undefined;
  dirents.sort((a, b) => Buffer.compare(a.name, b.name));
  for (const dirent of dirents) {
    const full = Buffer.concat([dir, SLASH, dirent.name]);
    const rel = prefix + dirent.name.toString('latin1');
    into.push({ full, rel });
    if (dirent.isDirectory() && listTree(full, `${rel}/`, into, max) === undefined)
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

function describeStat(st: BigIntStats): string {
  return [st.dev, st.ino, st.mode, st.uid, st.gid, st.size, st.mtimeNs, st.ctimeNs].join(':');
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
