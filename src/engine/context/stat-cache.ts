/**
 * Stat cache: content digests of context files keyed by what a change must alter
 * (dev, ino, size, mtime, ctime), so a rebuild that changed nothing reads no file
 * content. Persisted as one small line-oriented file; JSON or sqlite would cost more to
 * load than the scan it saves.
 *
 * Keys are plain numbers (Node's ordinary Stats): bigint stats cost the scan an
 * allocation per field and a bigint-to-string per lookup, a third of a no-op scan. The
 * times are milliseconds as doubles, exact to a fraction of a microsecond; that is enough
 * because the scanner caches only files whose ctime is well before the read, so any
 * later write or replacement moves ctime by far more than that.
 *
 * Format: a header line, then for each directory a line with its absolute path followed
 * by one line per file in it:
 * `<dev>\t<ino>\t<size>\t<mtimeMs>\t<ctimeMs>\tsha256:<hex>\t<name>`, paths and names
 * JSON-quoted when they hold a tab, newline or leading quote.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const HEADER = 'tbuild-statcache 2';

/** The stat fields that identify one version of a file (Node's bigint stats). */
export interface StatKey {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** The same identity from Node's ordinary (number) stats: what the scanner passes. */
export interface NumericStatKey {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** A cached digest; `signature` is the stat key as `signatureOf` prints it. */
interface Entry {
  signature: string;
  /** `sha256:<hex>`, as records carry it. */
  digest: string;
}

/** Nanoseconds as the milliseconds Node's number stats give (sec * 1e3 + nsec / 1e6). */
function msOfNs(ns: bigint): number {
  return Number(ns / 1_000_000_000n) * 1e3 + Number(ns % 1_000_000_000n) / 1e6;
}

/**
 * The key as text. JavaScript prints a number as the shortest string that reads back to
 * the same double, so equal strings mean equal numbers: comparing text spares parsing
 * five numbers per entry when the cache is opened.
 */
function signatureOf(stat: StatKey | NumericStatKey): string {
  if (typeof stat.dev === 'number') {
    const n = stat as NumericStatKey;
    return `${n.dev}\t${n.ino}\t${n.size}\t${n.mtimeMs}\t${n.ctimeMs}`;
  }
  const big = stat as StatKey;
  return `${big.dev}\t${big.ino}\t${big.size}\t${msOfNs(big.mtimeNs)}\t${msOfNs(big.ctimeNs)}`;
}

function splitPath(absPath: string): [string, string] {
  const slash = absPath.lastIndexOf('/');
  return [absPath.slice(0, slash), absPath.slice(slash + 1)];
}

function encodePath(p: string): string {
  return /[\t\n\r]/.test(p) || p.startsWith('"') ? JSON.stringify(p) : p;
}

function decodePath(p: string): string {
  return p.startsWith('"') ? (JSON.parse(p) as string) : p;
}

/** Entries of one directory, by file name. */
type DirEntries = Map<string, Entry>;

export class StatCache {
  readonly file: string;
  /**
   * Grouped by directory: the scanner looks up a whole directory once and then short
   * names, instead of hashing 20,000 fresh absolute paths.
   */
  private readonly dirs: Map<string, DirEntries>;
  private count: number;
  private dirty = false;

  private constructor(file: string, dirs: Map<string, DirEntries>, count: number) {
    this.file = file;
    this.dirs = dirs;
    this.count = count;
  }

  /** Load the cache file, or start empty when it is missing or unreadable as a cache. */
  static async open(file: string): Promise<StatCache> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      // A missing cache is the normal first run; anything else is a real problem.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return StatCache.inMemory(file);
      throw err;
    }
    const dirs = parseEntries(text);
    let count = 0;
    for (const entries of dirs.values()) count += entries.size;
    return new StatCache(file, dirs, count);
  }

  /** An empty cache that lives only in memory until save() is given a file. */
  static inMemory(file = ''): StatCache {
    return new StatCache(file, new Map(), 0);
  }

  get size(): number {
    return this.count;
  }

  /** The digest recorded for this exact file version, or undefined. */
  lookup(absPath: string, stat: StatKey | NumericStatKey): string | undefined {
    const [dir, name] = splitPath(absPath);
    return this.lookupIn(dir, name, stat);
  }

  /** lookup() for the file `name` in the directory `absDir` (no trailing slash). */
  lookupIn(absDir: string, name: string, stat: StatKey | NumericStatKey): string | undefined {
    const entry = this.dirs.get(absDir)?.get(name);
    if (entry === undefined || entry.signature !== signatureOf(stat)) return undefined;
    return entry.digest;
  }

  /** Remember `digest` (`sha256:<hex>`) for this file version. */
  record(absPath: string, stat: StatKey | NumericStatKey, digest: string): void {
    const [dir, name] = splitPath(absPath);
    const signature = signatureOf(stat);
    const full = digest.startsWith('sha256:') ? digest : `sha256:${digest}`;
    let entries = this.dirs.get(dir);
    if (entries === undefined) this.dirs.set(dir, (entries = new Map()));
    const old = entries.get(name);
    if (old !== undefined && old.signature === signature && old.digest === full) return;
    if (old === undefined) this.count++;
    entries.set(name, { signature, digest: full });
    this.dirty = true;
  }

  /** Forget entries under `rootDir` that a full scan of it did not see (deleted or now ignored files). */
  retainUnder(rootDir: string, seen: ReadonlySet<string>): void {
    const prefix = rootDir.endsWith('/') ? rootDir : rootDir + '/';
    for (const [dir, entries] of this.dirs) {
      if (dir + '/' !== prefix && !dir.startsWith(prefix)) continue;
      for (const name of entries.keys()) {
        if (seen.has(`${dir}/${name}`)) continue;
        entries.delete(name);
        this.count--;
        this.dirty = true;
      }
      if (entries.size === 0) this.dirs.delete(dir);
    }
  }

  /** Write the cache atomically (temp file + rename), only if something changed. */
  async save(): Promise<void> {
    if (!this.dirty || this.file === '') return;
    const lines = [HEADER];
    for (const [dir, entries] of this.dirs) {
      if (entries.size === 0) continue;
      lines.push(encodePath(dir));
      for (const [name, e] of entries)
        lines.push(`${e.signature}\t${e.digest}\t${encodePath(name)}`);
    }
    await writeAtomically(this.file, lines.join('\n') + '\n');
    this.dirty = false;
  }
}

/** Write `text` to `file` through a temp file and rename, so readers never see a torn file. */
export async function writeAtomically(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(temp, text);
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/**
 * Parse the file: a line without a tab names a directory (paths with tabs are
 * JSON-quoted), the entry lines after it are its files. The signature's five fields are
 * kept as one string; opening the cache is on every no-op build's path.
 */
function parseEntries(text: string): Map<string, DirEntries> {
  const dirs = new Map<string, DirEntries>();
  const lines = text.split('\n');
  // A file from another version (or a torn write from a crashed older tool) is just a cold cache.
  if (lines[0] !== HEADER) return dirs;
  let entries: DirEntries | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const nameTab = line.lastIndexOf('\t');
    if (nameTab < 0) {
      if (line === '') continue;
      const dir = decodePath(line);
      entries = dirs.get(dir);
      if (entries === undefined) dirs.set(dir, (entries = new Map()));
      continue;
    }
    const digestTab = line.lastIndexOf('\t', nameTab - 1);
    // A torn line, or entries before any directory line.
    if (digestTab < 0 || entries === undefined) continue;
    entries.set(decodePath(line.slice(nameTab + 1)), {
      signature: line.slice(0, digestTab),
      digest: line.slice(digestTab + 1, nameTab),
    });
  }
  return dirs;
}
