/**
 * The local build context as the engine uses it: content checksums of selected paths
 * (cache keys) and, when an op really copies from it, the full snapshot.
 *
 * Checksums are remembered per context root, under the hash of find's listing and the
 * .dockerignore patterns. A rebuild whose listing hashes the same (every path, type, mode,
 * owner, size, link target, inode and change time as before) takes its checksums from
 * there and never parses the listing nor opens the stat cache (ADR 0008). They are only
 * remembered when every file's digest was trustworthy (ScanStats.allCached).
 */
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Digest } from '../../shared/digest.ts';
import { checksumWithRecords } from './checksum.ts';
import { listingReader, ListingFormatError, startListing, type Listing } from './listing.ts';
import { openRecordIndex, type ContentChange, type RecordIndex } from './record-index.ts';
import { incrementalReader, rememberingReader, RememberedTree } from './remembered-tree.ts';
import { diskReader, resolveRoot, scanContext } from './scan.ts';
import type { TreeReader } from './scan.ts';
import { StatCache, writeAtomically } from './stat-cache.ts';
import type { ContextSnapshot } from './types.ts';

/** Bump when the checksum or snapshot format changes, so old memos are not trusted. */
const MEMO_VERSION = 'tbuild-context-checksums 1';
/** Selector lists remembered per context (a Dockerfile has a few dozen COPY at most). */
const MEMO_LIMIT = 256;

export interface LocalContext {
  /** The directory as given to the build (what bind mounts and COPY read). */
  readonly dir: string;
  /** sha256 over the selected paths' records (see checksumPaths). */
  checksum(selectors: readonly string[], signal?: AbortSignal): Promise<Digest>;
  /** Every non-excluded path with its record (scanned once, on first use). */
  snapshot(signal?: AbortSignal): Promise<ContextSnapshot>;
}

/** The contexts of one build (or one long-lived process), sharing the stat cache. */
/** Scan from the tree remembered for this root (watch mode; see noteChanges). */
export interface ContextChanges {
  remembered: true;
}

export interface ContextCache {
  /**
   * The context at `dir` with `patterns` excluded. `listing` is one started early (the
   * CLI starts it before loading the engine); a listing of another root or other patterns
   * is ignored and a new one started. `{ remembered: true }` instead reads the tree this
   * cache remembers from its last scan of the same root and patterns, and the disk only
   * where noteChanges said it changed (watch mode): no listing at all. Without a
   * remembered tree it lists as usual.
   */
  local(dir: string, patterns: readonly string[], early?: Listing | ContextChanges): LocalContext;
  /** A file watcher saw these absolute paths change: remembered trees read them again. */
  noteChanges(paths: readonly string[]): void;
  /** A plain scan of a directory (a mounted snapshot), through the shared stat cache. */
  scan(dir: string, signal?: AbortSignal): Promise<ContextSnapshot>;
  /** The files behind two checksums of the same selectors that differ, if still known. */
  describeChange(before: Digest, after: Digest): Promise<ContentChange | undefined>;
  /** Save the stat cache, remembered checksums and the records behind new checksums. */
  flush(): Promise<void>;
}

interface Memo {
  key: string;
  checksums: Record<string, Digest>;
}

/** The remembered checksums of one context root, loaded once and saved by flush(). */
class MemoFile {
  readonly #file: string;
  #memo: Promise<Memo | undefined> | undefined;
  #dirty = false;

  constructor(file: string) {
    this.#file = file;
  }

  load(): Promise<Memo | undefined> {
    return (this.#memo ??= readFile(this.#file, 'utf8').then(
      (text) => {
        const [version, key, json] = text.split('\n');
        if (version !== MEMO_VERSION || !key || !json) return undefined;
        return { key, checksums: JSON.parse(json) as Record<string, Digest> };
      },
      // Missing or unreadable: nothing remembered.
      () => undefined,
    ));
  }

  async get(key: string, id: string): Promise<Digest | undefined> {
    const memo = await this.load();
    return memo?.key === key ? memo.checksums[id] : undefined;
  }

  async put(key: string, id: string, digest: Digest): Promise<void> {
    let memo = await this.load();
    if (memo?.key !== key) this.#memo = Promise.resolve((memo = { key, checksums: {} }));
    const ids = Object.keys(memo!.checksums);
    if (ids.length >= MEMO_LIMIT) delete memo!.checksums[ids[0]!];
    memo!.checksums[id] = digest;
    this.#dirty = true;
  }

  async save(): Promise<void> {
    if (!this.#dirty) return;
    const memo = (await this.load())!;
    await writeAtomically(
      this.#file,
      `${MEMO_VERSION}\n${memo.key}\n${JSON.stringify(memo.checksums)}\n`,
    );
    this.#dirty = false;
  }
}

/**
 * Where the scan sees a path a watcher named: in its parent's real directory (the path
 * itself may be a symlink, or gone), and, for a directory such as the context root given
 * through a symlink, its own real path too.
 */
function realPathsOf(p: string): string[] {
  const out = [path.join(realDir(path.dirname(p)), path.basename(p))];
  try {
    const real = realpathSync(p);
    if (real !== out[0]) out.push(real);
  } catch {
    // Removed: its parent's path is enough.
  }
  return out;
}

function realDir(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    const parent = path.dirname(dir);
    return parent === dir ? dir : path.join(realDir(parent), path.basename(dir));
  }
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

/** Contexts whose stat cache and memos live in `stateDir` (`<store>/stat-cache`). */
export function openContextCache(stateDir: string): ContextCache {
  let statCache: Promise<StatCache> | undefined;
  const openStatCache = () => (statCache ??= StatCache.open(path.join(stateDir, 'context.json')));
  const memos = new Map<string, MemoFile>();
  const records = openRecordIndex(path.join(stateDir, 'records'));
  /** The tree each root was last scanned with, by root and patterns (see remembered-tree.ts). */
  const trees = new Map<string, RememberedTree>();
  const memoFor = (realRoot: string): MemoFile => {
    const name = createHash('sha256').update(realRoot).digest('hex').slice(0, 32);
    let memo = memos.get(name);
    if (memo === undefined)
      memos.set(name, (memo = new MemoFile(path.join(stateDir, `checksums-${name}`))));
    return memo;
  };

  return {
    local(dir, patterns, early) {
      // Errors (a missing context) surface from checksum()/snapshot(), where the solver reports them.
      let realRoot: string | undefined;
      try {
        realRoot = resolveRoot(dir);
      } catch {
        realRoot = undefined;
      }
      const treeKey = `${realRoot}\0${JSON.stringify(patterns)}`;
      const previous = realRoot === undefined ? undefined : trees.get(treeKey);
      const remember = (tree: RememberedTree) => void trees.set(treeKey, tree);
      if (early !== undefined && 'remembered' in early && previous !== undefined) {
        const tree = new RememberedTree();
        const reader = incrementalReader(previous, diskReader, tree);
        return createLocalContext(
          dir,
          patterns,
          { reader, tree, remember },
          openStatCache,
          undefined,
          records,
        );
      }
      const listing =
        early && 'root' in early && early.root === realRoot && sameStrings(early.patterns, patterns)
          ? early
          : startListing(dir, patterns);
      const memo = realRoot === undefined ? undefined : memoFor(realRoot);
      return createLocalContext(dir, patterns, { listing, remember }, openStatCache, memo, records);
    },
    noteChanges(paths) {
      for (const [key, tree] of trees) {
        const root = key.slice(0, key.indexOf('\0'));
        for (const p of paths) {
          for (const real of realPathsOf(p))
            if (real === root || real.startsWith(root + '/')) tree.changed.add(real);
        }
      }
    },
    scan: async (dir, signal) => scanContext(dir, [], await openStatCache(), { signal }),
    describeChange: (before, after) => records.diff(before, after),
    async flush() {
      if (statCache) await (await statCache).save();
      for (const memo of memos.values()) await memo.save();
      await records.flush();
    },
  };
}

/**
 * Where a scan reads the tree: find's listing (the disk when it fails), or a remembered
 * tree with the watcher's changes; either way the tree read is remembered for next time.
 */
type TreeSource =
  | { listing: Listing; remember(tree: RememberedTree): void }
  | { reader: TreeReader; tree: RememberedTree; remember(tree: RememberedTree): void };

function createLocalContext(
  dir: string,
  patterns: readonly string[],
  source: TreeSource,
  openStatCache: () => Promise<StatCache>,
  memo: MemoFile | undefined,
  records: RecordIndex,
): LocalContext {
  let key: Promise<string | undefined> | undefined;
  let snapshot: Promise<ContextSnapshot> | undefined;

  /** The memo key: this tool's format, the root, the patterns and the whole listing. */
  const memoKey = () =>
    (key ??=
      'listing' in source
        ? source.listing.output.then((output) => {
            if (output === undefined || !memo) return undefined;
            return createHash('sha256')
              .update(`${MEMO_VERSION}\0${source.listing.root}\0${JSON.stringify(patterns)}\0`)
              .update(output)
              .digest('hex');
          })
        : Promise.resolve(undefined));

  /** The reader the scan walks, remembering what it reads; and the tree it fills. */
  const readerOf = async (): Promise<{ reader: TreeReader; tree: RememberedTree }> => {
    if ('reader' in source) return { reader: source.reader, tree: source.tree };
    const tree = new RememberedTree();
    const output = await source.listing.output;
    let base: TreeReader = diskReader;
    if (output !== undefined) {
      try {
        base = listingReader(output);
      } catch (err) {
        if (!(err instanceof ListingFormatError)) throw err;
      }
    }
    return { reader: rememberingReader(base, tree), tree };
  };

  const context: LocalContext = {
    dir,
    snapshot(signal) {
      return (snapshot ??= (async () => {
        const [{ reader, tree }, statCache] = await Promise.all([readerOf(), openStatCache()]);
        const scanned = await scanContext(dir, patterns, statCache, { signal, reader });
        source.remember(tree);
        return scanned;
      })());
    },
    async checksum(selectors, signal) {
      const id = JSON.stringify(selectors);
      const k = await memoKey();
      if (k !== undefined && memo) {
        const remembered = await memo.get(k, id);
        if (remembered !== undefined) return remembered;
      }
      const snap = await context.snapshot(signal);
      const computed = checksumWithRecords(snap, selectors);
      const digest = computed.digest;
      records.keep(digest, selectors, computed.records);
      if (k !== undefined && memo && snap.stats.allCached) await memo.put(k, id, digest);
      return digest;
    },
  };
  return context;
}
