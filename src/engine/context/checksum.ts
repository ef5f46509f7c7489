/**
 * Content checksums of selected context paths: the cache key input for COPY/ADD from the
 * local context. Built only from (relative path, type, mode, uid, gid, size, link target,
 * content digest) — never timestamps — so touching a file keeps every key.
 */
import { createHash } from 'node:crypto';
import type { Digest } from '../../shared/digest.ts';
import { cleanPath, globToRegExp, hasGlobMeta } from '../../shared/path-match.ts';
import type { ContextFile, ContextSnapshot } from './types.ts';

/** One line of the checksum input; `\0` cannot occur in a path. */
function recordLine(rel: string, f: ContextFile): string {
  return `${rel}\0${f.type}\0${f.mode.toString(8)}\0${f.uid}\0${f.gid}\0${f.size}\0${f.linkTarget ?? ''}\0${f.digest ?? ''}\n`;
}

function normalizeSelector(selector: string): string {
  const cleaned = cleanPath('/' + selector).slice(1);
  return cleaned === '' ? '.' : cleaned;
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** Everything: paths relative to the context root. */
function collectAll(snapshot: ContextSnapshot): Array<[string, ContextFile]> {
  return [...snapshot.files.values()].map((f) => [f.path, f]);
}

/** A plain path: a file as its base name, a directory as `.` plus its subtree. */
function collectPath(snapshot: ContextSnapshot, selector: string): Array<[string, ContextFile]> {
  const entry = snapshot.files.get(selector);
  if (entry === undefined) return [];
  if (entry.type !== 'dir') return [[basename(selector), entry]];
  const out: Array<[string, ContextFile]> = [['.', entry]];
  const prefix = selector + '/';
  for (const f of snapshot.files.values()) {
    if (f.path.startsWith(prefix)) out.push([f.path.slice(prefix.length), f]);
  }
  return out;
}

/**
 * A wildcard, matched as COPY does (Go filepath.Match per path, `*` never crossing `/`):
 * every matching path plus the subtree of matching directories, relative to the
 * pattern's directory part before the first wildcard segment.
 */
function collectWildcard(
  snapshot: ContextSnapshot,
  selector: string,
): Array<[string, ContextFile]> {
  const segments = selector.split('/');
  const firstWild = segments.findIndex(hasGlobMeta);
  const baseLength = segments.slice(0, firstWild).join('/').length;
  const cut = baseLength === 0 ? 0 : baseLength + 1;
  const re = globToRegExp(selector);
  const out: Array<[string, ContextFile]> = [];
  for (const f of snapshot.files.values()) {
    const parts = f.path.split('/');
    if (parts.length < segments.length) continue;
    if (re.test(parts.slice(0, segments.length).join('/'))) out.push([f.path.slice(cut), f]);
  }
  return out;
}

/**
 * sha256 over the sorted records of exactly the selected paths. A selector is a file, a
 * directory (its whole subtree), a wildcard pattern, or `.`/`/` for the whole context.
 * Selecting nothing (a missing path, a pattern without matches) gives a stable
 * "missing" digest for that selector.
 */
export function checksumPaths(snapshot: ContextSnapshot, selectors: readonly string[]): Digest {
  return checksumWithRecords(snapshot, selectors).digest;
}

/**
 * checksumPaths, with the text it hashed: one `selector N` line per selector, then its
 * records. Kept (indexes.ts) so a later checksum can be diffed file by file.
 */
export function checksumWithRecords(
  snapshot: ContextSnapshot,
  selectors: readonly string[],
): { digest: Digest; records: string } {
  const parts: string[] = [];
  selectors.forEach((raw, index) => {
    const selector = normalizeSelector(raw);
    let records: Array<[string, ContextFile]>;
    if (selector === '.') records = collectAll(snapshot);
    else if (hasGlobMeta(selector)) records = collectWildcard(snapshot, selector);
    else records = collectPath(snapshot, selector);
    parts.push(`selector ${index}\n`);
    // The root always exists, even when everything in it is ignored.
    if (records.length === 0 && selector !== '.') {
      parts.push('missing\n');
      return;
    }
    records.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [rel, f] of records) parts.push(recordLine(rel, f));
  });
  const records = parts.join('');
  return { digest: `sha256:${createHash('sha256').update(records).digest('hex')}`, records };
}

/**
 * Context paths that differ between two record texts of checksumWithRecords for the same
 * selectors: a record is keyed by its selector and relative path, shown relative to the
 * context (`base/rel`).
 */
export function diffRecords(
  selectors: readonly string[],
  before: string,
  after: string,
): { added: string[]; removed: string[]; modified: string[] } {
  const normalized = selectors.map(normalizeSelector);
  const [b, a] = [recordBlocks(before), recordBlocks(after)];
  const added = new Set<string>();
  const removed = new Set<string>();
  const modified = new Set<string>();
  // Same selectors, so the same blocks in the same order; inside a block records are sorted
  // by relative path (checksumWithRecords), so one merge walk finds every difference.
  for (const [index, afterLines] of a) {
    const beforeLines = b.get(index) ?? [];
    const selector = normalized[index] ?? '.';
    // The selector is a directory when its block has a record for itself (`.`).
    const bDir = beforeLines.some((l) => l.startsWith('.\0'));
    const aDir = afterLines.some((l) => l.startsWith('.\0'));
    const name = (line: string, isDir: boolean) =>
      contextPath(selector, line.slice(0, line.indexOf('\0')), isDir);
    let i = 0;
    let j = 0;
    while (i < beforeLines.length || j < afterLines.length) {
      const old = beforeLines[i];
      const now = afterLines[j];
      if (old !== undefined && old === now) {
        i++;
        j++;
        continue;
      }
      const oldKey = old?.slice(0, old.indexOf('\0'));
      const nowKey = now?.slice(0, now.indexOf('\0'));
      if (old !== undefined && now !== undefined && oldKey === nowKey) {
        modified.add(name(now, aDir));
        i++;
        j++;
      } else if (now !== undefined && (old === undefined || nowKey! < oldKey!)) {
        added.add(name(now, aDir));
        j++;
      } else {
        removed.add(name(old!, bDir));
        i++;
      }
    }
  }
  return { added: [...added], removed: [...removed], modified: [...modified] };
}

/** The record lines of each `selector N` block of a record text ("missing" has none). */
function recordBlocks(text: string): Map<number, string[]> {
  const blocks = new Map<number, string[]>();
  let current: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('selector ')) {
      current = [];
      blocks.set(Number(line.slice('selector '.length)), current);
    } else if (line.includes('\0')) current.push(line);
  }
  return blocks;
}

/**
 * A record's path in the context: records are relative to the selected directory (the
 * selector itself, `.` for it), a selected file is its base name, and a wildcard's
 * matches are relative to the directory part before the first wildcard.
 */
function contextPath(selector: string, rel: string, selectorIsDir: boolean): string {
  if (selector === '.') return rel;
  const segments = selector.split('/');
  const firstWild = segments.findIndex(hasGlobMeta);
  if (firstWild >= 0) {
    const base = segments.slice(0, firstWild).join('/');
    return base ? `${base}/${rel}` : rel;
  }
  if (rel === '.') return selector;
  return selectorIsDir ? `${selector}/${rel}` : selector;
}
