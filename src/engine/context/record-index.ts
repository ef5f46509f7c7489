/**
 * The records behind recent content checksums (`<store>/stat-cache/records/`), so that a
 * cache miss can name the files that changed between the last build and this one. Kept
 * gzip-compressed, written when the context cache is flushed, about the newest KEEP: they serve
 * explanations, never correctness, and any failure here is silent by design.
 */
import { mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Digest } from '../../shared/digest.ts';
import { diffRecords } from './checksum.ts';

/** zlib is loaded when records are first read or written (a no-op build does neither). */
const zlib = async () => {
  const { gzip, gunzip } = await import('node:zlib');
  return { gzipAsync: promisify(gzip), gunzipAsync: promisify(gunzip) };
};
/** Checksums whose records are kept: a few per COPY of the Dockerfiles built here. */
const KEEP = 128;
/**
 * Records beyond KEEP before they are trimmed: a trim stats every file, so one every
 * 32 builds rather than one per build (a watch session builds hundreds of times).
 */
const SLACK = 32;
/** Diffs remembered, for the callers that ask for the same one during one build. */
const RECENT_DIFFS = 4;

export interface ContentChange {
  added: string[];
  removed: string[];
  modified: string[];
}

export interface RecordIndex {
  /** Keep the records text `digest` was computed from (written by flush). */
  keep(digest: Digest, selectors: readonly string[], records: string): void;
  /** Files that differ between two kept checksums of the same selectors, if both are kept. */
  diff(before: Digest, after: Digest): Promise<ContentChange | undefined>;
  flush(): Promise<void>;
}

export function openRecordIndex(dir: string): RecordIndex {
  const pending = new Map<Digest, { selectors: readonly string[]; records: string }>();
  const diffs = new Map<string, Promise<ContentChange | undefined>>();
  const fileOf = (digest: Digest) => path.join(dir, `${digest.slice('sha256:'.length)}.gz`);

  const load = async (digest: Digest) => {
    const kept = pending.get(digest);
    if (kept) return kept;
    try {
      const { gunzipAsync } = await zlib();
      const text = (await gunzipAsync(await readFile(fileOf(digest)))).toString('utf8');
      const newline = text.indexOf('\n');
      return {
        selectors: JSON.parse(text.slice(0, newline)) as string[],
        records: text.slice(newline + 1),
      };
    } catch {
      return undefined; // trimmed away, or never kept
    }
  };

  return {
    keep(digest, selectors, records) {
      pending.set(digest, { selectors, records });
    },
    diff(before, after) {
      // A miss's explanation and an incremental COPY's plan ask for the same diff at the
      // same time: computed once (a 20,000-file context's records are megabytes).
      const key = `${before} ${after}`;
      let diff = diffs.get(key);
      if (diff === undefined) {
        diff = (async () => {
          const [b, a] = await Promise.all([load(before), load(after)]);
          if (!b || !a || JSON.stringify(b.selectors) !== JSON.stringify(a.selectors))
            return undefined;
          return diffRecords(a.selectors, b.records, a.records);
        })();
        diffs.set(key, diff);
        // The last few only: a watch session asks anew after every change.
        if (diffs.size > RECENT_DIFFS) diffs.delete(diffs.keys().next().value!);
      }
      return diff;
    },
    async flush() {
      if (pending.size === 0) return;
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        for (const [digest, kept] of pending) {
          const file = fileOf(digest);
          const exists = await stat(file).catch(() => undefined);
          if (exists) {
            const now = new Date();
            await utimes(file, now, now); // still in use: keep it among the newest
            continue;
          }
          const { gzipAsync } = await zlib();
          const body = await gzipAsync(`${JSON.stringify(kept.selectors)}\n${kept.records}`, {
            level: 1,
          });
          await writeFile(file, body, { mode: 0o600 });
        }
        pending.clear();
        await trim(dir);
      } catch {
        pending.clear(); // explanations only: never fail a build over them
      }
    },
  };
}

/** Drop all but the KEEP newest record files, once there are SLACK more. */
async function trim(dir: string): Promise<void> {
  const names = await readdir(dir);
  if (names.length <= KEEP + SLACK) return;
  const dated = await Promise.all(
    names.map(async (name) => ({ name, mtime: (await stat(path.join(dir, name))).mtimeMs })),
  );
  dated.sort((x, y) => y.mtime - x.mtime);
  for (const { name } of dated.slice(KEEP)) await rm(path.join(dir, name), { force: true });
}
