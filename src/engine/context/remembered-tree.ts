/**
 * A long-lived process (watch mode) rescans a context after every change. With a file
 * watcher it knows which paths changed, so it need not list 20,000 unchanged entries
 * again: a scan reads the tree through a reader that remembers what it read, and the next
 * scan reads the remembered tree, going to the disk only for the changed paths, their
 * parent directories (entries added or removed) and everything below a changed directory.
 *
 * The watcher is trusted for what it does not report; a full listing (a forced rebuild,
 * or a watcher error) starts over from the disk.
 */
import path from 'node:path';
import type { EntryStat, TreeReader } from './scan.ts';

/**
 * What one scan read: directory listings, lstats and link targets, by absolute path; and
 * the paths a watcher has reported changed since (the disk differs there).
 */
export class RememberedTree {
  readonly lists = new Map<string, string[]>();
  readonly stats = new Map<string, EntryStat | undefined>();
  readonly links = new Map<string, string>();
  readonly changed = new Set<string>();
}

/** `base`, remembering every answer into `into`. */
export function rememberingReader(base: TreeReader, into: RememberedTree): TreeReader {
  return {
    list(abs, rel) {
      const names = base.list(abs, rel);
      into.lists.set(abs, names);
      return names;
    },
    lstat(abs, rel) {
      const stat = base.lstat(abs, rel);
      into.stats.set(abs, stat);
      return stat;
    },
    readlink(abs, rel) {
      const target = base.readlink(abs, rel);
      into.links.set(abs, target);
      return target;
    },
  };
}

/**
 * Answers from `previous` except where its `changed` paths say the disk differs, where
 * `disk` answers; everything is remembered into `into`.
 */
export function incrementalReader(
  previous: RememberedTree,
  disk: TreeReader,
  into: RememberedTree,
): TreeReader {
  const dirty = new Set<string>();
  const dirtyLists = new Set<string>();
  for (const p of previous.changed) {
    const abs = path.resolve(p);
    dirty.add(abs);
    dirtyLists.add(path.dirname(abs)); // an entry added or removed there
  }
  /** A path is stale when it, or a directory above it, changed. */
  const stale = (abs: string): boolean => {
    for (let p = abs; ;) {
      if (dirty.has(p)) return true;
      const parent = path.dirname(p);
      if (parent === p) return false;
      p = parent;
    }
  };
  const reader = rememberingReader(disk, into);
  return {
    list(abs, rel) {
      const names = previous.lists.get(abs);
      if (names === undefined || dirtyLists.has(abs) || stale(abs)) return reader.list(abs, rel);
      into.lists.set(abs, names);
      return names;
    },
    lstat(abs, rel) {
      if (!previous.stats.has(abs) || stale(abs)) return reader.lstat(abs, rel);
      const stat = previous.stats.get(abs);
      into.stats.set(abs, stat);
      return stat;
    },
    readlink(abs, rel) {
      const target = previous.links.get(abs);
      if (target === undefined || stale(abs)) return reader.readlink(abs, rel);
      into.links.set(abs, target);
      return target;
    },
  };
}
