import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256 } from '../shared/digest.ts';
import { createTempRoot } from './test-helpers.ts';
import type { SnapshotInfo, Store } from './types.ts';

let temp: Awaited<ReturnType<typeof createTempRoot>>;
let store: Store;
beforeEach(async () => {
  temp = await createTempRoot();
  store = await temp.open();
});
afterEach(() => temp.cleanup());

async function layer(parent: number | null, bytes: number): Promise<SnapshotInfo> {
  const snap = await store.snapshots.create(parent);
  await writeFile(join(snap.dir, 'f'), Buffer.alloc(bytes));
  return store.snapshots.commit(snap.id);
}

/** An image on top of `snapshot`, with its manifest naming `layerDigest`. */
async function tagImage(name: string, snapshot: number | null, layerDigest = sha256('none')) {
  const config = await store.blobs.put(`{"name":"${name}"}`);
  const manifest = await store.blobs.put(
    JSON.stringify({
      schemaVersion: 2,
      config: { digest: config.digest },
      layers: [{ digest: layerDigest }],
    }),
  );
  store.images.set({
    name,
    manifest: manifest.digest,
    config: config.digest,
    snapshot,
    createdAt: Date.now(),
  });
  return { config, manifest };
}

describe('prune', () => {
  it('keeps what images and cache records use and removes the rest', async () => {
    const base = await layer(null, 1000);
    const imageTop = await layer(base.id, 200);
    const cached = await layer(base.id, 300);
    const orphan = await layer(null, 400);
    const orphanChild = await layer(orphan.id, 10);
    const layerBlob = await store.blobs.put('layer of the image');
    const ownedBlob = await store.blobs.put('compressed orphan');
    store.snapshots.addLayerBlob(orphanChild.id, {
      ...ownedBlob,
      mediaType: 'x',
      compression: 'gzip',
    });
    const stray = await store.blobs.put('nobody wants me');
    const image = await tagImage('app:1', imageTop.id, layerBlob.digest);
    store.cache.put(sha256('key'), [{ snapshot: cached.id }]);

    const result = await store.prune();

    expect(result.removedSnapshots.sort()).toEqual([orphan.id, orphanChild.id].sort());
    expect(result.removedBlobs.sort()).toEqual([ownedBlob.digest, stray.digest].sort());
    expect(result.reclaimedBytes).toBe(410 + ownedBlob.size + stray.size);
    for (const kept of [base, imageTop, cached]) expect(store.snapshots.get(kept.id)).toBeDefined();
    for (const blob of [layerBlob, image.config, image.manifest])
      expect(await store.blobs.has(blob.digest)).toBe(true);
  });

  it('with all, removes every cache record but keeps tagged images', async () => {
    const base = await layer(null, 100);
    const cached = await layer(base.id, 50);
    await tagImage('app:1', base.id);
    store.cache.put(sha256('k'), [{ snapshot: cached.id }]);
    const result = await store.prune({ all: true });
    expect(result).toMatchObject({
      removedCacheRecords: 1,
      removedSnapshots: [cached.id],
      reclaimedBytes: 50,
    });
    expect(store.snapshots.get(base.id)).toBeDefined();
  });

  it('removes cache records unused for longer than the limit', async () => {
    const old = await layer(null, 10);
    const fresh = await layer(null, 20);
    store.cache.put(sha256('old'), [{ snapshot: old.id }]);
    store.cache.put(sha256('fresh'), [{ snapshot: fresh.id }]);
    // Wide margins: a loaded CI machine can take tens of milliseconds between two calls.
    await new Promise((r) => setTimeout(r, 1500));
    store.cache.get(sha256('fresh'));
    const result = await store.prune({ olderThanMs: 1000 });
    expect(result.removedSnapshots).toEqual([old.id]);
    expect(store.cache.list().map((r) => r.key)).toEqual([sha256('fresh')]);
  });

  it('with an age limit, spares unreferenced layers and blobs newer than the limit', async () => {
    const orphan = await layer(null, 400);
    const stray = await store.blobs.put('nobody wants me yet');
    const spared = await store.prune({ olderThanMs: 3600_000 });
    expect(spared).toMatchObject({ removedSnapshots: [], removedBlobs: [], reclaimedBytes: 0 });
    expect(store.snapshots.get(orphan.id)).toBeDefined();
    expect(await store.blobs.has(stray.digest)).toBe(true);
    // Without a limit the same data is unused and goes.
    const removed = await store.prune();
    expect(removed.removedSnapshots).toEqual([orphan.id]);
    expect(removed.removedBlobs).toEqual([stray.digest]);
  });

  it('removes least recently used records until the store fits the budget', async () => {
    const snaps = [];
    for (let i = 0; i < 4; i++) {
      snaps.push(await layer(null, 1000));
      store.cache.put(sha256(`k${i}`), [{ snapshot: snaps[i]!.id }]);
      await new Promise((r) => setTimeout(r, 2));
    }
    store.cache.get(sha256('k0')); // k0 is now the most recently used
    const result = await store.prune({ keepStorageBytes: 2500 });
    expect(result.removedSnapshots.sort()).toEqual([snaps[1]!.id, snaps[2]!.id].sort());
    expect(
      store.cache
        .list()
        .map((r) => r.key)
        .sort(),
    ).toEqual([sha256('k0'), sha256('k3')].sort());
  });

  it('never removes a snapshot that is still being written', async () => {
    const open = await store.snapshots.create(null);
    await store.prune({ all: true });
    expect(store.snapshots.get(open.id)).toBeDefined();
  });
});

describe('du', () => {
  it('reports sizes per snapshot and what prune -a would reclaim', async () => {
    const base = await layer(null, 1000);
    const cached = await layer(base.id, 300);
    await tagImage('app:1', base.id);
    store.cache.put(sha256('k'), [{ snapshot: cached.id }]);
    const usage = await store.du();
    expect(usage.snapshots.map((s) => [s.id, s.size, s.inUse, s.reclaimable])).toEqual([
      [base.id, 1000, true, false],
      [cached.id, 300, false, true],
    ]);
    expect(usage.cacheRecords).toBe(1);
    expect(usage.blobs.count).toBe(2);
    expect(usage.totals.snapshotBytes).toBe(1300);
    expect(usage.totals.totalBytes).toBe(1300 + usage.blobs.bytes);
    expect(usage.totals.reclaimableBytes).toBe(300);
  });
});

describe('cache mounts', () => {
  const seedWith = (content: string) => async (dir: string) => {
    await writeFile(join(dir, 'data'), content);
  };

  it('are made once by their seed, kept across opens, and measured by du', async () => {
    const dir = await store.cacheMount('apt', seedWith('first'));
    expect(await readFile(join(dir, 'data'), 'utf8')).toBe('first');
    store.close();
    store = await temp.open();
    // An existing cache is not seeded again.
    expect(await store.cacheMount('apt', seedWith('second'))).toBe(dir);
    expect(await readFile(join(dir, 'data'), 'utf8')).toBe('first');
    const usage = await store.du();
    expect(usage.cacheMounts).toEqual({ count: 1, bytes: 5 });
    expect(usage.totals.reclaimableBytes).toBeGreaterThanOrEqual(5);
  });

  it('leave nothing behind when seeding fails', async () => {
    await expect(
      store.cacheMount('broken', async () => {
        throw new Error('seed failed');
      }),
    ).rejects.toThrow('seed failed');
    expect((await store.du()).cacheMounts.count).toBe(0);
    const dir = await store.cacheMount('broken', seedWith('ok'));
    expect(await readFile(join(dir, 'data'), 'utf8')).toBe('ok');
  });

  it('are removed by prune --all and --filter until, not by a plain prune', async () => {
    const old = await store.cacheMount('old', seedWith('o'));
    await new Promise((r) => setTimeout(r, 30));
    const fresh = await store.cacheMount('fresh', seedWith('f'));
    expect((await store.prune()).removedCacheMounts).toBe(0);
    const filtered = await store.prune({ olderThanMs: 20 });
    expect(filtered.removedCacheMounts).toBe(1);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    const all = await store.prune({ all: true });
    expect(all).toMatchObject({ removedCacheMounts: 1, reclaimedBytes: 1 });
    expect(existsSync(fresh)).toBe(false);
  });

  it('are kept while another process has the store open', async () => {
    const dir = await store.cacheMount('shared', seedWith('s'));
    const other = spawn(process.execPath, [
      '--input-type=module',
      '-e',
      `const { openStore } = await import(${JSON.stringify(new URL('./store.ts', import.meta.url).href)});
       const s = await openStore({ root: ${JSON.stringify(store.root)} });
       process.stdout.write('open\\n');
       await new Promise((r) => process.stdin.once('data', r));
       s.close();`,
    ]);
    try {
      await new Promise((resolve) => other.stdout.once('data', resolve));
      expect((await store.prune({ all: true })).removedCacheMounts).toBe(0);
      expect(existsSync(dir)).toBe(true);
    } finally {
      other.stdin.end('done\n');
      await new Promise((resolve) => other.once('exit', resolve));
    }
  });
});

describe('unnamed images', () => {
  async function unnamedImage(name: string) {
    const top = await layer(null, 10);
    const { config, manifest } = await tagImage(name, top.id);
    store.images.delete(name);
    return { config: config.digest, manifest: manifest.digest, snapshot: top.id, createdAt: 1 };
  }

  it('are kept by their config digest until named, and protect their layers', async () => {
    const image = await unnamedImage('tmp:1');
    store.images.keepUnnamed(image);
    expect(store.images.list().map((r) => r.name)).toEqual([image.config]);
    expect((await store.prune()).removedSnapshots).toEqual([]);
    // Naming it replaces the unnamed record; keeping it unnamed again changes nothing.
    store.images.set({ ...image, name: 'docker.io/library/app:1' });
    store.images.keepUnnamed(image);
    expect(store.images.list().map((r) => r.name)).toEqual(['docker.io/library/app:1']);
  });

  it('are removed by prune --all, named images are not', async () => {
    const unnamed = await unnamedImage('tmp:1');
    store.images.keepUnnamed(unnamed);
    const named = await unnamedImage('tmp:2');
    store.images.set({ ...named, name: 'docker.io/library/kept:1' });
    const result = await store.prune({ all: true });
    expect(result.removedUnnamedImages).toBe(1);
    expect(result.removedSnapshots).toEqual([unnamed.snapshot]);
    expect(store.images.list().map((r) => r.name)).toEqual(['docker.io/library/kept:1']);
  });
});
