/**
 * Layer snapshots: `snapshots/<id>/fs` holds the layer diff in overlayfs upperdir form
 * and `snapshots/<id>/work` is its overlay workdir while it is written. Ids are small
 * integers (AUTOINCREMENT, never reused) so overlay mount options stay short.
 *
 * Crash safety: the row is inserted (uncommitted, with its owner process) before the
 * directory exists, and deleted before the directory goes; the next open removes rows
 * of dead owners and directories without rows. Only committed snapshots may be
 * referenced (as parents, by cache records, by images).
 */
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SQLInputValue } from 'node:sqlite';
import type { Digest } from '../shared/digest.ts';
import type { StoreContext } from './context.ts';
import { withTransaction } from './database.ts';
import {
  BlobNotFoundError,
  SnapshotInUseError,
  SnapshotNotFoundError,
  SnapshotStateError,
} from './errors.ts';
import { measureSmallTree, measureTree, removeTree, removeTreeSync } from './fs-utils.ts';
import { currentProcess } from './process-lease.ts';
import type { LayerBlob, SnapshotId, SnapshotInfo, SnapshotStore } from './types.ts';

export interface SnapshotRow {
  id: number;
  parent: number | null;
  committed: number;
  diff_id: string | null;
  tar_size?: number | null;
  size: number | null;
  created_at: number;
  last_used_at: number;
  description: string | null;
  owner_pid: number;
  owner_start: number;
}

/**
 * With `sizeFromHash`, a layer of more entries than this is left for its hash to measure:
 * the walk to find out costs little up to here, and its hash runs in a worker thread.
 */
const HASH_MEASURES_PAST = 256;

/** Create the snapshot store of an open store; `onCreate` hears of each new snapshot's id. */
export function createSnapshotStore(
  ctx: StoreContext,
  onCreate: (id: SnapshotId) => void = () => undefined,
): SnapshotStore {
  const { db } = ctx;
  const dir = ctx.layout.snapshots;
  const toInfo = (row: SnapshotRow): SnapshotInfo => rowToInfo(dir, row);
  const getRow = (id: SnapshotId): SnapshotRow | undefined =>
    db.prepare('SELECT * FROM snapshots WHERE id = ?').get(id) as SnapshotRow | undefined;
  const requireRow = (id: SnapshotId): SnapshotRow => {
    const row = getRow(id);
    if (!row) throw new SnapshotNotFoundError(id);
    return row;
  };
  const requireCommitted = (id: SnapshotId): SnapshotRow => {
    const row = requireRow(id);
    if (!row.committed) throw new SnapshotStateError(id, 'is not committed yet');
    return row;
  };

  return {
    dir,
    async create(parent, description) {
      const me = currentProcess();
      const now = Date.now();
      const id = withTransaction(db, () => {
        if (parent !== null) requireCommitted(parent);
        const result = db
          .prepare(
            `INSERT INTO snapshots (parent, created_at, last_used_at, description, owner_pid, owner_start)
             VALUES (?, ?, ?, ?, ?, ?)`,
          )
          .run(parent, now, now, description ?? null, me.pid, me.startTime);
        return Number(result.lastInsertRowid);
      });
      onCreate(id);
      try {
        // The snapshot's own directory is private (a layer may hold setuid files); `fs` is
        // the layer's root directory, whose mode the image shows as `/`. Synchronous, as
        // small file-system steps are (ADR 20): each mount of a COPY or RUN makes one.
        mkdirSync(join(dir, String(id), 'fs'), { recursive: true, mode: 0o755 });
        chmodSync(join(dir, String(id)), 0o700);
        mkdirSync(join(dir, String(id), 'work'), { mode: 0o700 });
      } catch (error) {
        db.prepare('DELETE FROM snapshots WHERE id = ?').run(id);
        await removeTree(join(dir, String(id)));
        throw error;
      }
      return toInfo(requireRow(id));
    },
    async commit(id, meta) {
      const row = requireRow(id);
      if (row.committed) throw new SnapshotStateError(id, 'is already committed');
      // A lazy layer's directory goes before the row says committed: a crash in between
      // leaves an uncommitted snapshot (recovered), never an empty one claiming a diff id.
      if (meta?.lazy) await removeTree(join(dir, String(id), 'fs'));
      const fs = join(dir, String(id), 'fs');
      const size = meta?.lazy
        ? null
        : meta?.sizeFromHash
          ? (measureSmallTree(fs, HASH_MEASURES_PAST) ?? null)
          : await measureTree(fs);
      // The workdir is only needed while overlay writes the layer. It holds an empty
      // directory or two by now: removed synchronously, without a round trip per step.
      removeTreeSync(join(dir, String(id), 'work'));
      withTransaction(db, () => {
        requireRow(id);
        db.prepare(
          'UPDATE snapshots SET committed = 1, size = ?, diff_id = COALESCE(?, diff_id), created_at = COALESCE(?, created_at), last_used_at = ? WHERE id = ?',
        ).run(size, meta?.diffId ?? null, meta?.createdAt ?? null, Date.now(), id);
      });
      return toInfo(requireRow(id));
    },
    get: (id) => {
      const row = getRow(id);
      return row && toInfo(row);
    },
    chain(id) {
      const rows = db
        .prepare(
          `WITH RECURSIVE chain(id, depth) AS (
             SELECT id, 0 FROM snapshots WHERE id = ?
             UNION ALL SELECT s.parent, c.depth + 1 FROM snapshots s JOIN chain c ON s.id = c.id
               WHERE s.parent IS NOT NULL)
           SELECT s.* FROM chain c JOIN snapshots s ON s.id = c.id ORDER BY c.depth`,
        )
        .all(id) as unknown as SnapshotRow[];
      if (rows.length === 0) throw new SnapshotNotFoundError(id);
      return rows.map(toInfo);
    },
    setDiffId(id, diffId, tarSize, contentBytes) {
      requireRow(id);
      db.prepare(
        'UPDATE snapshots SET diff_id = ?, tar_size = COALESCE(?, tar_size), size = COALESCE(size, ?) WHERE id = ?',
      ).run(diffId, tarSize ?? null, contentBytes ?? null, id);
    },
    findByDiffId(parent, diffId) {
      const row = db
        .prepare(
          'SELECT * FROM snapshots WHERE committed = 1 AND parent IS ? AND diff_id = ? ORDER BY id LIMIT 1',
        )
        .get(parent, diffId) as SnapshotRow | undefined;
      return row && toInfo(row);
    },
    layerBlobs(id) {
      const rows = db
        .prepare(
          'SELECT digest, size, media_type, compression FROM layer_blobs WHERE snapshot_id = ?',
        )
        .all(id) as unknown as {
        digest: Digest;
        size: number;
        media_type: string;
        compression: string;
      }[];
      return rows.map((r) => ({
        digest: r.digest,
        size: r.size,
        mediaType: r.media_type,
        compression: r.compression,
      }));
    },
    addLayerBlob(id, blob: LayerBlob) {
      withTransaction(db, () => {
        requireCommitted(id);
        // Checked under the write lock, which prune holds while it deletes blobs.
        if (!existsSync(join(ctx.layout.blobs, blob.digest.slice('sha256:'.length)))) {
          throw new BlobNotFoundError(blob.digest);
        }
        db.prepare(
          'INSERT OR REPLACE INTO layer_blobs (snapshot_id, digest, size, media_type, compression) VALUES (?, ?, ?, ?, ?)',
        ).run(id, blob.digest, blob.size, blob.mediaType, blob.compression);
      });
    },
    async remove(id) {
      withTransaction(db, () => {
        requireRow(id);
        const user = findSnapshotUser(ctx, id);
        if (user) throw new SnapshotInUseError(id, user);
        deleteSnapshotRow(ctx, id);
      });
      await removeTree(join(dir, String(id)));
    },
    list() {
      const rows = db
        .prepare('SELECT * FROM snapshots ORDER BY id')
        .all() as unknown as SnapshotRow[];
      return rows.map(toInfo);
    },
    touch(id) {
      db.prepare('UPDATE snapshots SET last_used_at = ? WHERE id = ?').run(Date.now(), id);
    },
  };
}

/** What still uses a snapshot (a child, a cache record, an image), or undefined. */
export function findSnapshotUser(ctx: StoreContext, id: SnapshotId): string | undefined {
  const q = (sql: string, ...args: SQLInputValue[]) =>
    ctx.db.prepare(sql).get(...args) as Record<string, unknown> | undefined;
  const child = q('SELECT id FROM snapshots WHERE parent = ? LIMIT 1', id);
  if (child) return `snapshot ${String(child.id)}`;
  const cache = q('SELECT key FROM cache_refs WHERE snapshot_id = ? LIMIT 1', id);
  if (cache) return `cache record ${String(cache.key)}`;
  const image = q('SELECT name FROM images WHERE snapshot = ? LIMIT 1', id);
  if (image) return `image ${String(image.name)}`;
  return undefined;
}

/** Delete a snapshot's rows (call inside a transaction; the directory goes after commit). */
export function deleteSnapshotRow(ctx: StoreContext, id: SnapshotId): void {
  ctx.db.prepare('DELETE FROM layer_blobs WHERE snapshot_id = ?').run(id);
  ctx.db.prepare('DELETE FROM snapshots WHERE id = ?').run(id);
}

export function rowToInfo(dir: string, row: SnapshotRow): SnapshotInfo {
  const info: SnapshotInfo = {
    id: row.id,
    parent: row.parent,
    dir: join(dir, String(row.id), 'fs'),
    workDir: join(dir, String(row.id), 'work'),
    committed: row.committed === 1,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
  if (row.diff_id !== null) info.diffId = row.diff_id as Digest;
  if (row.size !== null) info.size = row.size;
  if (row.tar_size !== null && row.tar_size !== undefined) info.tarSize = row.tar_size;
  if (row.description !== null) info.description = row.description;
  return info;
}
