/**
 * An in-memory picture of what references what (cache records → snapshots → parents,
 * images → snapshots and blobs), for sizing prune's budget and for `du`.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isDigest } from '../shared/digest.ts';
import type { Digest } from '../shared/digest.ts';
import type { StoreContext } from './context.ts';
import { isNotFound } from './fs-utils.ts';
import { rowToInfo } from './snapshot-store.ts';
import type { SnapshotRow } from './snapshot-store.ts';
import type { BlobInfo, SnapshotId, SnapshotInfo } from './types.ts';

export interface StoredBlob extends BlobInfo {
  mtimeMs: number;
}

/** Every blob file with its size and modification time. */
export async function listStoredBlobs(ctx: StoreContext): Promise<StoredBlob[]> {
  let names: string[];
  try {
    names = await readdir(ctx.layout.blobs);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const blobs: StoredBlob[] = [];
  for (const name of names) {
    const digest = `sha256:${name}`;
    if (!isDigest(digest)) continue;
    try {
      const info = await stat(join(ctx.layout.blobs, name));
      blobs.push({ digest, size: info.size, mtimeMs: info.mtimeMs });
    } catch (error) {
      if (!isNotFound(error)) throw error; // deleted meanwhile by another prune
    }
  }
  return blobs;
}

export interface UsageGraph {
  snapshots: { info: SnapshotInfo; protected: boolean }[];
  /** Snapshots reachable from images, records in `keepKeys`, and protected snapshots. */
  liveSnapshots(keepKeys: Set<string>): Set<SnapshotId>;
  /** Blobs images and the given snapshots need. */
  liveBlobs(snapshots: Set<SnapshotId>): Set<Digest>;
  blobs: StoredBlob[];
  protectFrom: number;
}

/** Load the reference graph; snapshots used since `protectFrom` count as protected. */
export function loadUsageGraph(
  ctx: StoreContext,
  blobs: StoredBlob[],
  protectFrom: number,
): UsageGraph {
  const { db } = ctx;
  const rows = db.prepare('SELECT * FROM snapshots ORDER BY id').all() as unknown as SnapshotRow[];
  const byId = new Map(rows.map((r) => [r.id, r]));
  const refsByKey = groupBy(
    db.prepare('SELECT key, snapshot_id FROM cache_refs').all() as unknown as {
      key: string;
      snapshot_id: number;
    }[],
    (r) => r.key,
    (r) => r.snapshot_id,
  );
  const layerBlobs = groupBy(
    db.prepare('SELECT snapshot_id, digest FROM layer_blobs').all() as unknown as {
      snapshot_id: number;
      digest: Digest;
    }[],
    (r) => r.snapshot_id,
    (r) => r.digest,
  );
  const imageSnapshots = (
    db.prepare('SELECT snapshot FROM images WHERE snapshot IS NOT NULL').all() as unknown as {
      snapshot: number;
    }[]
  ).map((r) => r.snapshot);
  const imageBlobs = (
    db.prepare('SELECT DISTINCT digest FROM image_blobs').all() as unknown as { digest: Digest }[]
  ).map((r) => r.digest);
  const isProtected = (r: SnapshotRow): boolean =>
    r.committed === 0 || r.last_used_at >= protectFrom;
  return {
    snapshots: rows.map((r) => ({
      info: rowToInfo(ctx.layout.snapshots, r),
      protected: isProtected(r),
    })),
    blobs,
    protectFrom,
    liveSnapshots(keepKeys) {
      const live = new Set<SnapshotId>();
      const mark = (id: SnapshotId | null): void => {
        while (id !== null && !live.has(id) && byId.has(id)) {
          live.add(id);
          id = byId.get(id)!.parent;
        }
      };
      imageSnapshots.forEach(mark);
      for (const key of keepKeys) refsByKey.get(key)?.forEach(mark);
      for (const r of rows) if (isProtected(r)) mark(r.id);
      return live;
    },
    liveBlobs(snapshots) {
      const live = new Set<Digest>(imageBlobs);
      for (const id of snapshots) layerBlobs.get(id)?.forEach((d) => live.add(d));
      return live;
    },
  };
}

/** Bytes that stay after removing every cache record not in `keepKeys`. */
export function measureLive(graph: UsageGraph, keepKeys: Set<string>): number {
  const live = graph.liveSnapshots(keepKeys);
  const liveBlobs = graph.liveBlobs(live);
  let bytes = 0;
  for (const s of graph.snapshots) if (live.has(s.info.id)) bytes += s.info.size ?? 0;
  for (const b of graph.blobs)
    if (liveBlobs.has(b.digest) || b.mtimeMs >= graph.protectFrom) bytes += b.size;
  return bytes;
}

function groupBy<T, K, V>(items: T[], key: (item: T) => K, value: (item: T) => V): Map<K, V[]> {
  const map = new Map<K, V[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k);
    if (list) list.push(value(item));
    else map.set(k, [value(item)]);
  }
  return map;
}
