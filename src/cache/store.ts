/**
 * Opening a store: create the layout, open and migrate the database, register this
 * process's session, and clean up after dead processes. Closing removes what this
 * instance left unfinished (uncommitted snapshots, temp and mount directories).
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { createBlobStore } from './blob-store.ts';
import { createCacheIndex } from './cache-index.ts';
import { measureCacheMounts, openCacheMount } from './cache-mounts.ts';
import { resolveLayout } from './context.ts';
import type { StoreContext, StoreLayout } from './context.ts';
import { openDatabase, readGeneration } from './database.ts';
import { secureLayout } from './permissions.ts';
import { defaultStoreRoot } from './default-root.ts';
import { isDiskFull } from '../shared/errors.ts';
import { StoreAccessError } from './errors.ts';
import { removeTreeSync } from './fs-utils.ts';
import { measureDiskUsage, pruneStore } from './gc.ts';
import { createImageRefs } from './image-refs.ts';
import { createKeyHistory } from './key-history.ts';
import { acquireLock, releaseOwnLocks, tryAcquireLock } from './locks.ts';
import { createLeaseName, currentProcess } from './process-lease.ts';
import { recoverStore } from './recover.ts';
import { createSnapshotStore } from './snapshot-store.ts';
import type { OpenStoreOptions, SnapshotId, Store } from './types.ts';
import { listStoredBlobs } from './usage-graph.ts';

/** Open (creating if needed) the store at `options.root` or the default root. */
export async function openStore(options: OpenStoreOptions = {}): Promise<Store> {
  const layout = resolveLayout(resolve(options.root ?? defaultStoreRoot()));
  await createLayout(layout);
  let db: DatabaseSync;
  try {
    db = openDatabase(layout.database, layout.root);
  } catch (error) {
    if (error instanceof Error && 'errcode' in error)
      throw new StoreAccessError(layout.root, error.message, { cause: error });
    throw error;
  }
  const lease = createLeaseName();
  const me = currentProcess();
  db.prepare(
    'INSERT INTO sessions (token, owner_pid, owner_start, opened_at) VALUES (?, ?, ?, ?)',
  ).run(lease, me.pid, me.startTime, Date.now());
  const leaseDirs = { tmp: join(layout.tmp, lease), mounts: join(layout.mounts, lease) };
  const made = new Set<string>();
  // Synchronous, as small file-system steps are (ADR 20): every mount makes a directory.
  const ensure = (dir: string): string => {
    if (!made.has(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    made.add(dir);
    return dir;
  };
  const ctx: StoreContext = {
    layout,
    db,
    leaseTempDir: async () => ensure(leaseDirs.tmp),
  };
  const created = new Set<SnapshotId>();
  const snapshots = createSnapshotStore(ctx, (id) => created.add(id));
  const recovery = await recoverStore(ctx);
  const blobs = createBlobStore(ctx);
  const images = createImageRefs(ctx);
  let closed = false;
  const store: Store = {
    root: layout.root,
    blobs,
    snapshots,
    cache: createCacheIndex(ctx),
    images,
    keyHistory: createKeyHistory(ctx),
    generation: () => readGeneration(db),
    recovery,
    lock: (name, signal) => acquireLock(ctx, name, signal),
    tryLock: (name) => tryAcquireLock(ctx, name),
    tempDir: async (prefix) => mkdtempSync(join(ensure(leaseDirs.tmp), `${prefix}-`)),
    mountDir: async (prefix) => mkdtempSync(join(ensure(leaseDirs.mounts), `${prefix}-`)),
    async prune(pruneOptions = {}) {
      const release = await acquireLock(ctx, 'gc');
      try {
        // Unnamed images are build results nobody tagged: all of the cache goes, they too.
        const removedUnnamedImages = pruneOptions.all ? images.deleteUnnamed() : 0;
        const result = await pruneStore(ctx, await listStoredBlobs(ctx), pruneOptions);
        return { ...result, removedUnnamedImages };
      } finally {
        await release();
      }
    },
    cacheMount: (id, seed) => openCacheMount(ctx, id, seed),
    du: async () =>
      measureDiskUsage(ctx, await listStoredBlobs(ctx), await measureCacheMounts(ctx)),
    close() {
      if (closed) return;
      closed = true;
      try {
        closeInstance(ctx, created, lease, [leaseDirs.mounts, leaseDirs.tmp]);
      } finally {
        db.close();
      }
    },
  };
  return store;
}

async function createLayout(layout: StoreLayout): Promise<void> {
  try {
    for (const dir of [
      layout.blobs,
      layout.snapshots,
      layout.tmp,
      layout.mounts,
      layout.cacheMounts,
    ]) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    }
    await secureLayout(layout);
  } catch (error) {
    throw new StoreAccessError(layout.root, (error as Error).message, { cause: error });
  }
}

/** Undo what this instance left unfinished; another instance in this process keeps its own. */
function closeInstance(
  ctx: StoreContext,
  created: Set<SnapshotId>,
  lease: string,
  dirs: string[],
): void {
  // Mounts first: an overlay may still use an abandoned snapshot as its upperdir.
  for (const dir of dirs) removeTreeSync(dir);
  const abandoned: SnapshotId[] = [];
  for (const id of created) {
    const row = ctx.db.prepare('SELECT committed FROM snapshots WHERE id = ?').get(id) as
      { committed: number } | undefined;
    if (row && !row.committed) abandoned.push(id);
  }
  // Files before rows: on a full disk, removing them is what frees the space SQLite needs.
  for (const id of abandoned) removeTreeSync(join(ctx.layout.snapshots, String(id)));
  try {
    for (const id of abandoned)
      ctx.db.prepare('DELETE FROM snapshots WHERE id = ? AND committed = 0').run(id);
    ctx.db.prepare('DELETE FROM sessions WHERE token = ?').run(lease);
    if (countOwnSessions(ctx) === 0) releaseOwnLocks(ctx);
  } catch (error) {
    // Still full: the next open recovers this dead session's rows (see recover.ts). Closing
    // must not replace the error the command is already failing with.
    if (!isDiskFull(error)) throw error;
  }
}

function countOwnSessions(ctx: StoreContext): number {
  const me = currentProcess();
  const row = ctx.db
    .prepare('SELECT count(*) AS n FROM sessions WHERE owner_pid = ? AND owner_start = ?')
    .get(me.pid, me.startTime) as { n: number };
  return row.n;
}
