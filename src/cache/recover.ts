/**
 * Recovery on open: undo what dead processes left half-done. Only things owned by a
 * process that no longer runs are touched, so recovery is safe while other builds run.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoreContext } from './context.ts';
import { withTransaction } from './database.ts';
import { isNotFound, measureTree, removeTree } from './fs-utils.ts';
import { listMountsUnder, unmountUnder } from './mounts.ts';
import { isProcessAlive, parseLeaseName } from './process-lease.ts';
import { deleteSnapshotRow } from './snapshot-store.ts';
import type { RecoveryReport, SnapshotId } from './types.ts';

/** Temp entries that name no owner are removed once this old. */
const UNOWNED_TEMP_MAX_AGE_MS = 60 * 60 * 1000;

/** Clean up after dead processes; says what was cleaned. */
export async function recoverStore(ctx: StoreContext): Promise<RecoveryReport> {
  const report: RecoveryReport = {
    unmounted: [],
    removedTemp: [],
    removedSnapshots: [],
    removedOrphanDirs: [],
    releasedLocks: [],
    measuredSnapshots: [],
  };
  report.releasedLocks = dropDeadOwnerRows(ctx);
  for (const dir of [ctx.layout.mounts, ctx.layout.tmp]) {
    for (const entry of await listDeadLeases(dir)) {
      report.unmounted.push(...unmountUnder(entry));
      await removeTree(entry);
      report.removedTemp.push(entry);
    }
  }
  report.removedSnapshots = await removeAbandonedSnapshots(ctx);
  report.removedOrphanDirs = await removeOrphanSnapshotDirs(ctx);
  report.measuredSnapshots = await measureUnsizedSnapshots(ctx);
  return report;
}

/** Whether a report says nothing was cleaned. */
export function isEmptyReport(report: RecoveryReport): boolean {
  return Object.values(report).every((list: unknown[]) => list.length === 0);
}

function dropDeadOwnerRows(ctx: StoreContext): string[] {
  return withTransaction(ctx.db, () => {
    const dead = <T extends { owner_pid: number; owner_start: number }>(rows: T[]) =>
      rows.filter((r) => !isProcessAlive({ pid: r.owner_pid, startTime: r.owner_start }));
    const sessions = ctx.db
      .prepare('SELECT token, owner_pid, owner_start FROM sessions')
      .all() as unknown as {
      token: string;
      owner_pid: number;
      owner_start: number;
    }[];
    for (const s of dead(sessions))
      ctx.db.prepare('DELETE FROM sessions WHERE token = ?').run(s.token);
    const locks = ctx.db
      .prepare('SELECT name, token, owner_pid, owner_start FROM locks')
      .all() as unknown as {
      name: string;
      token: string;
      owner_pid: number;
      owner_start: number;
    }[];
    const released = dead(locks);
    for (const l of released)
      ctx.db.prepare('DELETE FROM locks WHERE name = ? AND token = ?').run(l.name, l.token);
    return released.map((l) => l.name);
  });
}

/** Entries of `dir` whose owner is gone (or that name no owner and are old). */
async function listDeadLeases(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const dead: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const owner = parseLeaseName(name);
    if (owner) {
      if (!isProcessAlive(owner)) dead.push(path);
      continue;
    }
    const info = await stat(path).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
    // A mount inside means someone may be using it: never delete those by age.
    if (
      info &&
      Date.now() - info.mtimeMs > UNOWNED_TEMP_MAX_AGE_MS &&
      listMountsUnder(path).length === 0
    ) {
      dead.push(path);
    }
  }
  return dead;
}

/** Uncommitted snapshots whose creating process died: rows first, then directories. */
async function removeAbandonedSnapshots(ctx: StoreContext): Promise<number[]> {
  const ids = withTransaction(ctx.db, () => {
    const rows = ctx.db
      .prepare('SELECT id, owner_pid, owner_start FROM snapshots WHERE committed = 0')
      .all() as unknown as { id: number; owner_pid: number; owner_start: number }[];
    const dead = rows.filter(
      (r) => !isProcessAlive({ pid: r.owner_pid, startTime: r.owner_start }),
    );
    for (const row of dead) deleteSnapshotRow(ctx, row.id);
    return dead.map((r) => r.id);
  });
  for (const id of ids) await removeTree(join(ctx.layout.snapshots, String(id)));
  return ids;
}

/**
 * Committed snapshots without a size whose creator died: a large image layer's size comes
 * from its hash (snapshot-store.ts `sizeFromHash`), and the process may have ended first.
 * A lazy snapshot has no size either, but always has its diff ID.
 */
async function measureUnsizedSnapshots(ctx: StoreContext): Promise<SnapshotId[]> {
  const rows = ctx.db
    .prepare(
      'SELECT id, owner_pid, owner_start FROM snapshots WHERE committed = 1 AND size IS NULL AND diff_id IS NULL',
    )
    .all() as unknown as { id: number; owner_pid: number; owner_start: number }[];
  const measured: SnapshotId[] = [];
  for (const row of rows) {
    if (isProcessAlive({ pid: row.owner_pid, startTime: row.owner_start })) continue;
    const size = await measureTree(join(ctx.layout.snapshots, String(row.id), 'fs')).catch(
      () => undefined,
    );
    if (size === undefined) continue; // its directory is gone: `tbuild check` reports that
    ctx.db.prepare('UPDATE snapshots SET size = ? WHERE id = ? AND size IS NULL').run(size, row.id);
    measured.push(row.id);
  }
  return measured;
}

/**
 * Snapshot directories with no row: a crash between deleting a row and its directory.
 * Rows are inserted before directories are made, so listing directories first and rows
 * second never mistakes a snapshot being created for an orphan.
 *
 * The listing is skipped when the directory holds exactly as many subdirectories as there
 * are rows: a directory's link count is 2 + its subdirectories (ext4, xfs, tmpfs; btrfs
 * says 1, and ext4 past 65,000: listed every time there). Listing every snapshot and every
 * row cost each tbuild process ~1.5 ms per thousand snapshots. An orphan that a missing
 * directory offsets is left until the counts differ again (`tbuild check` reports the
 * missing one, and its restore brings the listing back).
 */
async function removeOrphanSnapshotDirs(ctx: StoreContext): Promise<string[]> {
  let names: string[];
  try {
    const subdirectories = (await stat(ctx.layout.snapshots)).nlink - 2;
    const { rows } = ctx.db.prepare('SELECT count(*) AS rows FROM snapshots').get() as {
      rows: number;
    };
    if (subdirectories >= 0 && subdirectories === rows) return [];
    names = await readdir(ctx.layout.snapshots);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const known = new Set(
    (ctx.db.prepare('SELECT id FROM snapshots').all() as unknown as { id: number }[]).map((r) =>
      String(r.id),
    ),
  );
  const removed: string[] = [];
  for (const name of names) {
    if (known.has(name)) continue;
    const path = join(ctx.layout.snapshots, name);
    await removeTree(path);
    removed.push(path);
  }
  return removed;
}
