/**
 * The cache index: cache key → results. A record may name only committed snapshots,
 * so a crash can never leave the index pointing at a half-written layer. Reading a
 * record marks it (and its snapshots) used, for least-recently-used pruning.
 */
import type { Digest } from '../shared/digest.ts';
import type { StoreContext } from './context.ts';
import { withTransaction } from './database.ts';
import { SnapshotNotFoundError, SnapshotStateError } from './errors.ts';
import type { CacheIndex, CachedResult, CacheRecord } from './types.ts';

interface CacheRow {
  key: string;
  results: string;
  created_at: number;
  last_used_at: number;
  description: string | null;
}

/** Create the cache index of an open store. */
export function createCacheIndex(ctx: StoreContext): CacheIndex {
  const { db } = ctx;
  return {
    get(key) {
      const row = db.prepare('SELECT * FROM cache WHERE key = ?').get(key) as CacheRow | undefined;
      if (!row) return undefined;
      const now = Date.now();
      withTransaction(db, () => {
        db.prepare('UPDATE cache SET last_used_at = ? WHERE key = ?').run(now, key);
        db.prepare(
          'UPDATE snapshots SET last_used_at = ? WHERE id IN (SELECT snapshot_id FROM cache_refs WHERE key = ?)',
        ).run(now, key);
      });
      return { ...rowToRecord(row), lastUsedAt: now };
    },
    put(key, results, description) {
      const now = Date.now();
      withTransaction(db, () => {
        const ids = snapshotIds(results);
        for (const id of ids) {
          const row = db.prepare('SELECT committed FROM snapshots WHERE id = ?').get(id) as
            { committed: number } | undefined;
          if (!row) throw new SnapshotNotFoundError(id);
          if (!row.committed)
            throw new SnapshotStateError(id, 'is not committed, so it cannot be cached');
        }
        db.prepare(
          `INSERT INTO cache (key, results, created_at, last_used_at, description) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(key) DO UPDATE SET results = excluded.results, last_used_at = excluded.last_used_at,
             description = COALESCE(excluded.description, cache.description)`,
        ).run(key, JSON.stringify(results), now, now, description ?? null);
        db.prepare('DELETE FROM cache_refs WHERE key = ?').run(key);
        const insert = db.prepare(
          'INSERT OR IGNORE INTO cache_refs (key, snapshot_id) VALUES (?, ?)',
        );
        for (const id of ids) insert.run(key, id);
      });
    },
    delete(key) {
      withTransaction(db, () => deleteCacheRecord(ctx, key));
    },
    list() {
      const rows = db
        .prepare('SELECT * FROM cache ORDER BY created_at, key')
        .all() as unknown as CacheRow[];
      return rows.map(rowToRecord);
    },
  };
}

/** Delete one record and its snapshot references (inside a transaction). */
export function deleteCacheRecord(ctx: StoreContext, key: string): void {
  ctx.db.prepare('DELETE FROM cache_refs WHERE key = ?').run(key);
  ctx.db.prepare('DELETE FROM cache WHERE key = ?').run(key);
}

function snapshotIds(results: CachedResult[]): number[] {
  const ids = new Set<number>();
  for (const result of results) if ('snapshot' in result) ids.add(result.snapshot);
  return [...ids];
}

function rowToRecord(row: CacheRow): CacheRecord {
  const record: CacheRecord = {
    key: row.key as Digest,
    results: JSON.parse(row.results) as CachedResult[],
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
  if (row.description !== null) record.description = row.description;
  return record;
}
