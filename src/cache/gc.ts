/**
 * Prune and disk usage. Prune removes cache records (all, by age, or oldest-used first
 * down to a size budget), then snapshots nothing references (no cache record, image or
 * child snapshot), then blobs no image or snapshot names. Data that other live
 * processes may be about to reference (written or used since they opened the store)
 * is spared; so are snapshots still being written.
 */
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { StoreContext } from './context.ts';
import { pruneCacheMounts } from './cache-mounts.ts';
import { withTransaction } from './database.ts';
import { isNotFound, removeTree } from './fs-utils.ts';
import { currentProcess, isProcessAlive } from './process-lease.ts';
import { deleteCacheRecord } from './cache-index.ts';
import { deleteSnapshotRow, findSnapshotUser } from './snapshot-store.ts';
import type { DiskUsage, PruneOptions, PruneResult, SnapshotId } from './types.ts';
import type { StoredBlob } from './usage-graph.ts';
import { loadUsageGraph, measureLive } from './usage-graph.ts';

/** Prune the store (call with the `gc` lock held). */
export async function pruneStore(
  ctx: StoreContext,
  blobs: StoredBlob[],
  options: PruneOptions,
): Promise<Omit<PruneResult, 'removedUnnamedImages'>> {
  const protectFrom = findProtectionStart(ctx);
  const removedCacheRecords = removeCacheRecords(ctx, blobs, options, protectFrom);
  const mounts = await pruneCacheMounts(ctx, options, protectFrom !== Infinity);
  // `--filter until=1h` spares everything used in the last hour, referenced or not: a layer
  // a build wrote a minute ago is not "old" because no cache record names it.
  const spareFrom =
    options.olderThanMs === undefined
      ? protectFrom
      : Math.min(protectFrom, Date.now() - options.olderThanMs);
  const { ids, bytes } = await removeUnusedSnapshots(ctx, spareFrom);
  const removedBlobs = removeUnusedBlobs(ctx, blobs, spareFrom);
  const blobBytes = removedBlobs.reduce((sum, b) => sum + b.size, 0);
  return {
    removedCacheRecords,
    removedCacheMounts: mounts.count,
    removedSnapshots: ids,
    removedBlobs: removedBlobs.map((b) => b.digest),
    reclaimedBytes: bytes + blobBytes + mounts.bytes,
  };
}

/**
 * The earliest time another live process opened the store: anything written or used
 * since may be referenced by it any moment, so prune leaves it. Infinity when alone.
 */
function findProtectionStart(ctx: StoreContext): number {
  const me = currentProcess();
  const rows = ctx.db
    .prepare('SELECT owner_pid, owner_start, opened_at FROM sessions')
    .all() as unknown as {
    owner_pid: number;
    owner_start: number;
    opened_at: number;
  }[];
  let earliest = Infinity;
  for (const row of rows) {
    if (row.owner_pid === me.pid && row.owner_start === me.startTime) continue;
    if (!isProcessAlive({ pid: row.owner_pid, startTime: row.owner_start })) continue;
    earliest = Math.min(earliest, row.opened_at);
  }
  return earliest;
}

function removeCacheRecords(
  ctx: StoreContext,
  blobs: StoredBlob[],
  options: PruneOptions,
  protectFrom: number,
): number {
  const records = ctx.db
    .prepare('SELECT key, last_used_at FROM cache ORDER BY last_used_at, key')
    .all() as unknown as {
    key: string;
    last_used_at: number;
  }[];
  let count = 0;
  if (options.all) count = records.length;
  else if (options.olderThanMs !== undefined) {
    const limit = Date.now() - options.olderThanMs;
    count = records.filter((r) => r.last_used_at < limit).length; // sorted: they come first
  }
  if (options.keepStorageBytes !== undefined) {
    count = Math.max(
      count,
      countToFitBudget(
        ctx,
        blobs,
        records.map((r) => r.key),
        options.keepStorageBytes,
        protectFrom,
      ),
    );
  }
  const doomed = records.slice(0, count).filter((r) => r.last_used_at < protectFrom);
  withTransaction(ctx.db, () => {
    for (const r of doomed) deleteCacheRecord(ctx, r.key);
  });
  return doomed.length;
}

/** How many of the oldest-used records must go for the rest to fit in `budget` bytes. */
function countToFitBudget(
  ctx: StoreContext,
  blobs: StoredBlob[],
  keysOldestFirst: string[],
  budget: number,
  protectFrom: number,
): number {
  const graph = loadUsageGraph(ctx, blobs, protectFrom);
  const fits = (k: number): boolean =>
    measureLive(graph, new Set(keysOldestFirst.slice(k))) <= budget;
  // Usage only shrinks as more records go, so binary-search the smallest k that fits.
  let lo = 0;
  let hi = keysOldestFirst.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

async function removeUnusedSnapshots(
  ctx: StoreContext,
  protectFrom: number,
): Promise<{ ids: SnapshotId[]; bytes: number }> {
  const ids: SnapshotId[] = [];
  let bytes = 0;
  // Each round frees the parents of the last round's leaves.
  for (;;) {
    const round = withTransaction(ctx.db, () => {
      const rows = ctx.db
        .prepare(
          'SELECT id, size FROM snapshots WHERE committed = 1 AND last_used_at < ? ORDER BY id DESC',
        )
        .all(protectFrom === Infinity ? Number.MAX_SAFE_INTEGER : protectFrom) as unknown as {
        id: number;
        size: number | null;
      }[];
      const removed = rows.filter((row) => findSnapshotUser(ctx, row.id) === undefined);
      for (const row of removed) deleteSnapshotRow(ctx, row.id);
      return removed;
    });
    if (round.length === 0) break;
    for (const row of round) {
      await removeTree(join(ctx.layout.snapshots, String(row.id)));
      ids.push(row.id);
      bytes += row.size ?? 0;
    }
  }
  return { ids, bytes };
}

function removeUnusedBlobs(
  ctx: StoreContext,
  blobs: StoredBlob[],
  protectFrom: number,
): StoredBlob[] {
  const referenced = (): Set<string> =>
    new Set(
      (
        ctx.db
          .prepare('SELECT digest FROM image_blobs UNION SELECT digest FROM layer_blobs')
          .all() as unknown as { digest: string }[]
      ).map((r) => r.digest),
    );
  const removed: StoredBlob[] = [];
  // Delete under the write lock: image and layer-blob writers check existence under it too.
  withTransaction(ctx.db, () => {
    const keep = referenced();
    for (const blob of blobs) {
      if (keep.has(blob.digest) || blob.mtimeMs >= protectFrom) continue;
      try {
        unlinkSync(join(ctx.layout.blobs, blob.digest.slice('sha256:'.length)));
        removed.push(blob);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  });
  return removed;
}

/** Sizes per snapshot and totals, and what `prune -a` could reclaim. */
export function measureDiskUsage(
  ctx: StoreContext,
  blobs: StoredBlob[],
  cacheMounts: DiskUsage['cacheMounts'],
): DiskUsage {
  const graph = loadUsageGraph(ctx, blobs, Infinity);
  const imageLive = graph.liveSnapshots(new Set());
  const imageBlobs = graph.liveBlobs(imageLive);
  const snapshots = graph.snapshots.map((s) => ({
    ...s.info,
    size: s.info.size ?? 0,
    inUse: imageLive.has(s.info.id),
    reclaimable: !imageLive.has(s.info.id),
  }));
  const snapshotBytes = snapshots.reduce((sum, s) => sum + s.size, 0);
  const blobBytes = blobs.reduce((sum, b) => sum + b.size, 0);
  const reclaimableBytes =
    snapshots.filter((s) => s.reclaimable).reduce((sum, s) => sum + s.size, 0) +
    blobs.filter((b) => !imageBlobs.has(b.digest)).reduce((sum, b) => sum + b.size, 0);
  return {
    snapshots,
    blobs: { count: blobs.length, bytes: blobBytes },
    cacheRecords: (ctx.db.prepare('SELECT count(*) AS n FROM cache').get() as { n: number }).n,
    cacheMounts,
    totals: {
      snapshotBytes,
      blobBytes,
      totalBytes: snapshotBytes + blobBytes + cacheMounts.bytes,
      reclaimableBytes: reclaimableBytes + cacheMounts.bytes,
    },
  };
}
