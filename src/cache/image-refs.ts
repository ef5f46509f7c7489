/**
 * Image references: name → (manifest, config, top snapshot). Setting a name records
 * every blob the image needs (manifest, config, layers; for an index, its manifests
 * and theirs when present) so prune keeps them. Removing a name deletes no content;
 * `prune` does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { digestHex, isDigest } from '../shared/digest.ts';
import type { Digest } from '../shared/digest.ts';
import type { StoreContext } from './context.ts';
import { withTransaction } from './database.ts';
import { BlobNotFoundError, SnapshotNotFoundError, SnapshotStateError } from './errors.ts';
import type { ImageRecord, ImageRefs } from './types.ts';

interface ImageRow {
  name: string;
  manifest: string;
  config: string;
  snapshot: number | null;
  created_at: number;
}

/** An image kept without a name (docker's `<none>`): its record is named by its config digest. */
export function isUnnamedImage(record: Pick<ImageRecord, 'name' | 'config'>): boolean {
  return record.name === record.config;
}

/** Create the image references of an open store. */
export function createImageRefs(ctx: StoreContext): ImageRefs {
  const { db } = ctx;
  const remove = (name: string): boolean => {
    db.prepare('DELETE FROM image_blobs WHERE name = ?').run(name);
    return db.prepare('DELETE FROM images WHERE name = ?').run(name).changes > 0;
  };
  const refs: ImageRefs = {
    get(name) {
      const row = db.prepare('SELECT * FROM images WHERE name = ?').get(name) as
        ImageRow | undefined;
      return row && rowToImage(row);
    },
    set(record) {
      withTransaction(db, () => {
        // Under the write lock, which prune holds while deleting: the blobs cannot vanish now.
        for (const digest of [record.manifest, record.config]) {
          if (!existsSync(blobPath(ctx, digest))) throw new BlobNotFoundError(digest);
        }
        if (record.snapshot !== null) {
          const row = db
            .prepare('SELECT committed FROM snapshots WHERE id = ?')
            .get(record.snapshot) as { committed: number } | undefined;
          if (!row) throw new SnapshotNotFoundError(record.snapshot);
          if (!row.committed)
            throw new SnapshotStateError(
              record.snapshot,
              'is not committed, so no image can use it',
            );
        }
        if (!isUnnamedImage(record)) remove(record.config);
        db.prepare(
          `INSERT OR REPLACE INTO images (name, manifest, config, snapshot, created_at) VALUES (?, ?, ?, ?, ?)`,
        ).run(record.name, record.manifest, record.config, record.snapshot, record.createdAt);
        db.prepare('DELETE FROM image_blobs WHERE name = ?').run(record.name);
        const insert = db.prepare('INSERT OR IGNORE INTO image_blobs (name, digest) VALUES (?, ?)');
        for (const digest of collectImageBlobs(ctx, record)) insert.run(record.name, digest);
      });
    },
    keepUnnamed(record) {
      withTransaction(db, () => {
        const named = db.prepare('SELECT 1 FROM images WHERE config = ?').get(record.config);
        if (!named) refs.set({ ...record, name: record.config });
      });
    },
    deleteUnnamed() {
      return withTransaction(db, () => {
        const rows = db.prepare('SELECT name FROM images WHERE name = config').all() as unknown as {
          name: string;
        }[];
        for (const { name } of rows) remove(name);
        return rows.length;
      });
    },
    delete(name) {
      return withTransaction(db, () => remove(name));
    },
    list() {
      const rows = db.prepare('SELECT * FROM images ORDER BY name').all() as unknown as ImageRow[];
      return rows.map(rowToImage);
    },
  };
  return refs;
}

function blobPath(ctx: StoreContext, digest: Digest): string {
  if (!isDigest(digest)) throw new TypeError(`not a sha256 digest: ${String(digest)}`);
  return join(ctx.layout.blobs, digestHex(digest));
}

interface ManifestLike {
  config?: { digest?: string };
  layers?: { digest?: string }[];
  manifests?: { digest?: string }[];
}

/** The manifest, config and every descriptor reachable from them through stored manifests. */
function collectImageBlobs(ctx: StoreContext, record: ImageRecord): Set<Digest> {
  const found = new Set<Digest>([record.manifest, record.config]);
  const visit = (digest: Digest, depth: number): void => {
    const path = blobPath(ctx, digest);
    if (depth > 4 || !existsSync(path)) return;
    let doc: ManifestLike;
    try {
      doc = JSON.parse(readFileSync(path, 'utf8')) as ManifestLike;
    } catch (error) {
      if (error instanceof SyntaxError) return; // not JSON: a layer or config, nothing to follow
      throw error;
    }
    const children = [doc.config, ...(doc.layers ?? [])];
    for (const d of children) if (d?.digest && isDigest(d.digest)) found.add(d.digest);
    for (const m of doc.manifests ?? []) {
      if (!m.digest || !isDigest(m.digest) || found.has(m.digest)) continue;
      found.add(m.digest);
      visit(m.digest, depth + 1);
    }
  };
  visit(record.manifest, 0);
  return found;
}

function rowToImage(row: ImageRow): ImageRecord {
  return {
    name: row.name,
    manifest: row.manifest as Digest,
    config: row.config as Digest,
    snapshot: row.snapshot,
    createdAt: row.created_at,
  };
}
