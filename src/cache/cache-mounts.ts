/**
 * Directories of `RUN --mount=type=cache`: `<root>/cache-mounts/<sha256(id)[:32]>`, with
 * their id and last use in the database so that `prune` can remove them as
 * `docker builder prune` does. A new one is seeded in a temp directory and renamed into
 * place, so a build killed while seeding leaves no half-made cache behind.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoreContext } from './context.ts';
import { isNotFound, measureTree, removeTree } from './fs-utils.ts';
import type { PruneOptions } from './types.ts';

function dirName(id: string): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 32);
}

function touch(ctx: StoreContext, name: string, id: string): void {
  ctx.db
    .prepare(
      `INSERT INTO cache_mounts (name, id, last_used_at) VALUES (?, ?, ?)
       ON CONFLICT(name) DO UPDATE SET last_used_at = excluded.last_used_at`,
    )
    .run(name, id, Date.now());
}

/** The directory of cache `id`; a new one is made by `seed` (which also sets its owner and mode). */
export async function openCacheMount(
  ctx: StoreContext,
  id: string,
  seed: (dir: string) => Promise<void>,
): Promise<string> {
  const name = dirName(id);
  const dir = join(ctx.layout.cacheMounts, name);
  // lstat, not readdir: a cache directory may hold thousands of entries.
  const existing = await lstat(dir).then(
    () => true,
    (error: unknown) => {
      if (isNotFound(error)) return false;
      throw error;
    },
  );
  if (!existing) {
    const temp = await mkdtemp(join(await ctx.leaseTempDir(), 'cache-mount-'));
    try {
      await seed(temp);
      await rename(temp, dir);
    } catch (error) {
      await removeTree(temp);
      // Another build made it first: use theirs.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw error;
    }
  }
  touch(ctx, name, id);
  return dir;
}

async function listCacheMounts(
  ctx: StoreContext,
): Promise<Array<{ name: string; lastUsedAt: number }>> {
  const names = await readdir(ctx.layout.cacheMounts).catch((error: unknown) => {
    if (isNotFound(error)) return [] as string[];
    throw error;
  });
  const rows = ctx.db.prepare('SELECT name, last_used_at FROM cache_mounts').all() as unknown as {
    name: string;
    last_used_at: number;
  }[];
  const used = new Map(rows.map((r) => [r.name, r.last_used_at]));
  // Directories from before their use was recorded count as long unused.
  return names.map((name) => ({ name, lastUsedAt: used.get(name) ?? 0 }));
}

/**
 * Remove cache mounts for `prune --all` (all) or `--filter until=` (unused for that long).
 * Only when no other process has the store open: a running build may be using any of
 * them, and shared mounts take no lock.
 */
export async function pruneCacheMounts(
  ctx: StoreContext,
  options: PruneOptions,
  othersOpen: boolean,
): Promise<{ count: number; bytes: number }> {
  if (othersOpen || (!options.all && options.olderThanMs === undefined))
    return { count: 0, bytes: 0 };
  const limit = options.all ? Infinity : Date.now() - options.olderThanMs!;
  let count = 0;
  let bytes = 0;
  for (const { name, lastUsedAt } of await listCacheMounts(ctx)) {
    if (lastUsedAt >= limit) continue;
    const dir = join(ctx.layout.cacheMounts, name);
    // Out of the way first, so an interrupted removal leaves no partial cache in place.
    const doomed = await mkdtemp(join(await ctx.leaseTempDir(), 'doomed-'));
    await rename(dir, join(doomed, name));
    ctx.db.prepare('DELETE FROM cache_mounts WHERE name = ?').run(name);
    bytes += await measureTree(doomed);
    await removeTree(doomed);
    count++;
  }
  return { count, bytes };
}

/** How many cache mounts there are and the bytes they hold. */
export async function measureCacheMounts(
  ctx: StoreContext,
): Promise<{ count: number; bytes: number }> {
  const mounts = await listCacheMounts(ctx);
  let bytes = 0;
  for (const { name } of mounts) bytes += await measureTree(join(ctx.layout.cacheMounts, name));
  return { count: mounts.length, bytes };
}
