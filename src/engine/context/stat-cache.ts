/**
 * Stat cache: content digests of context files keyed by what a change must alter
 * (dev, ino, size, mtime ns, ctime ns), so a rebuild that changed nothing reads no file
 * content. Persisted as one small line-oriented file; JSON or sqlite would cost more to
 * load than the scan it saves.
 *
 * Format: a header line, then one line per file: `<signature>\t<sha256 hex>\t<path>`,
 * the path JSON-quoted when it holds a tab, newline or leading quote.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const HEADER = 'tbuild-statcache 1';

/** The stat fields that identify one version of a file (Node's bigint stats). */
export interface StatKey {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

interface Entry {
  signature: string;
  hex: string;
}

function signatureOf(stat: StatKey): string {
  return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
}

function encodePath(p: string): string {
  return /[\t\n\r]/.test(p) || p.startsWith('"') ? JSON.stringify(p) : p;
}

function decodePath(p: string): string {
  return p.startsWith('"') ? (JSON.parse(p) as string) : p;
}

export class StatCache {
  readonly file: string;
  private readonly entries: Map<string, Entry>;
  private dirty = false;

  private constructor(file: string, entries: Map<string, Entry>) {
    this.file = file;
    this.entries = entries;
  }

  /** Load the cache file, or start empty when it is missing or unreadable as a cache. */
  static async open(file: string): Promise<StatCache> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      // A missing cache is the normal first run; anything else is a real problem.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new StatCache(file, new Map());
      throw err;
    }
    return new StatCache(file, parseEntries(text));
  }

  /** An empty cache that lives only in memory until save() is given a file. */
  static inMemory(file = ''): StatCache {
    return new StatCache(file, new Map());
  }

  get size(): number {
    return this.entries.size;
  }

  /** The digest recorded for this exact file version, or undefined. */
  lookup(absPath: string, stat: StatKey): string | undefined {
    const entry = this.entries.get(absPath);
    if (entry === undefined || entry.signature !== signatureOf(stat)) return undefined;
    return `sha256:${entry.hex}`;
  }

  /** Remember `digest` (`sha256:<hex>`) for this file version. */
  record(absPath: string, stat: StatKey, digest: string): void {
    const signature = signatureOf(stat);
    const hex = digest.startsWith('sha256:') ? digest.slice(7) : digest;
    const old = this.entries.get(absPath);
    if (old !== undefined && old.signature === signature && old.hex === hex) return;
    this.entries.set(absPath, { signature, hex });
    this.dirty = true;
  }

  /** Forget entries under `rootDir` that a full scan of it did not see (deleted or now ignored files). */
  retainUnder(rootDir: string, seen: ReadonlySet<string>): void {
    const prefix = rootDir.endsWith('/') ? rootDir : rootDir + '/';
    for (const key of this.entries.keys()) {
      if (key.startsWith(prefix) && !seen.has(key)) {
        this.entries.delete(key);
        this.dirty = true;
      }
    }
  }

  /** Write the cache atomically (temp file + rename), only if something changed. */
  async save(): Promise<void> {
    if (!this.dirty || this.file === '') return;
    const lines = [HEADER];
    for (const [path, entry] of this.entries)
      lines.push(`${entry.signature}\t${entry.hex}\t${encodePath(path)}`);
    await mkdir(dirname(this.file), { recursive: true });
    const temp = `${this.file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await writeFile(temp, lines.join('\n') + '\n');
      await rename(temp, this.file);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    this.dirty = false;
  }
}

function parseEntries(text: string): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  const lines = text.split('\n');
  // A file from another version (or a torn write from a crashed older tool) is just a cold cache.
  if (lines[0] !== HEADER) return entries;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const a = line.indexOf('\t');
    const b = a < 0 ? -1 : line.indexOf('\t', a + 1);
    if (b < 0) continue;
    entries.set(decodePath(line.slice(b + 1)), {
      signature: line.slice(0, a),
      hex: line.slice(a + 1, b),
    });
  }
  return entries;
}
