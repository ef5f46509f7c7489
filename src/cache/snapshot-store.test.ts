import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256 } from '../shared/digest.ts';
import { SnapshotInUseError, SnapshotNotFoundError, SnapshotStateError } from './errors.ts';
import { createTempRoot } from './test-helpers.ts';
import type { Store } from './types.ts';

let temp: Awaited<ReturnType<typeof createTempRoot>>;
let store: Store;
beforeEach(async () => {
  temp = await createTempRoot();
  store = await temp.open();
});
afterEach(() => temp.cleanup());

describe('snapshot store', () => {
  it('creates numbered snapshots with an fs and a work directory under snapshots/', async () => {
    const snap = await store.snapshots.create(null, 'FROM scratch');
    expect(snap.dir).toBe(join(temp.root, 'snapshots', String(snap.id), 'fs'));
    expect(snap.workDir).toBe(join(temp.root, 'snapshots', String(snap.id), 'work'));
    expect(await readdir(join(temp.root, 'snapshots', String(snap.id)))).toEqual(['fs', 'work']);
    expect(snap).toMatchObject({ parent: null, committed: false, description: 'FROM scratch' });
  });

  it('records the layer size and diff id at commit', async () => {
    const snap = await store.snapshots.create(null);
    await writeFile(join(snap.dir, 'a'), 'x'.repeat(100));
    await mkdir(join(snap.dir, 'd'));
    await writeFile(join(snap.dir, 'd', 'b'), 'y'.repeat(50));
    await symlink('a', join(snap.dir, 'link'));
    const committed = await store.snapshots.commit(snap.id, { diffId: sha256('layer') });
    expect(committed).toMatchObject({ committed: true, size: 151, diffId: sha256('layer') });
    await expect(store.snapshots.commit(snap.id)).rejects.toBeInstanceOf(SnapshotStateError);
  });

  it('leaves the size of a large layer to its hash with sizeFromHash, and measures a small one', async () => {
    const small = await store.snapshots.create(null);
    await writeFile(join(small.dir, 'a'), 'x'.repeat(10));
    expect((await store.snapshots.commit(small.id, { sizeFromHash: true })).size).toBe(10);

    const big = await store.snapshots.create(null);
    for (let i = 0; i < 300; i++) await writeFile(join(big.dir, `f${i}`), 'ab');
    expect((await store.snapshots.commit(big.id, { sizeFromHash: true })).size).toBeUndefined();
    store.snapshots.setDiffId(big.id, sha256('big'), 4096, 4200);
    expect(store.snapshots.get(big.id)).toMatchObject({ size: 4200, tarSize: 4096 });
    // A measured size stays what it is.
    store.snapshots.setDiffId(small.id, sha256('small'), 2048, 99);
    expect(store.snapshots.get(small.id)?.size).toBe(10);
  });

  it('lists a chain nearest first, the overlay lowerdir order', async () => {
    const a = await store.snapshots.commit((await store.snapshots.create(null)).id);
    const b = await store.snapshots.commit((await store.snapshots.create(a.id)).id);
    const c = await store.snapshots.create(b.id);
    expect(store.snapshots.chain(c.id).map((s) => s.id)).toEqual([c.id, b.id, a.id]);
    expect(() => store.snapshots.chain(999)).toThrow(SnapshotNotFoundError);
  });

  it('builds only on committed parents', async () => {
    const open = await store.snapshots.create(null);
    await expect(store.snapshots.create(open.id)).rejects.toBeInstanceOf(SnapshotStateError);
  });

  it('finds a pulled layer by parent and diff id', async () => {
    const base = await store.snapshots.commit((await store.snapshots.create(null)).id, {
      diffId: sha256('1'),
    });
    const top = await store.snapshots.create(base.id);
    await store.snapshots.commit(top.id);
    store.snapshots.setDiffId(top.id, sha256('2'));
    expect(store.snapshots.findByDiffId(null, sha256('1'))?.id).toBe(base.id);
    expect(store.snapshots.findByDiffId(base.id, sha256('2'))?.id).toBe(top.id);
    expect(store.snapshots.findByDiffId(null, sha256('2'))).toBeUndefined();
  });

  it('keeps compressed layer blobs per snapshot', async () => {
    const snap = await store.snapshots.commit((await store.snapshots.create(null)).id);
    const blob = await store.blobs.put('gzip bytes');
    const layer = {
      ...blob,
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      compression: 'gzip',
    };
    store.snapshots.addLayerBlob(snap.id, layer);
    expect(store.snapshots.layerBlobs(snap.id)).toEqual([layer]);
  });

  it('refuses to remove a snapshot that another builds on, and removes a leaf', async () => {
    const a = await store.snapshots.commit((await store.snapshots.create(null)).id);
    const b = await store.snapshots.create(a.id);
    await expect(store.snapshots.remove(a.id)).rejects.toBeInstanceOf(SnapshotInUseError);
    await store.snapshots.remove(b.id);
    expect(store.snapshots.get(b.id)).toBeUndefined();
    expect(await readdir(join(temp.root, 'snapshots'))).toEqual([String(a.id)]);
  });

  it('never reuses an id, even after removal', async () => {
    const a = await store.snapshots.create(null);
    await store.snapshots.remove(a.id);
    const b = await store.snapshots.create(null);
    expect(b.id).toBeGreaterThan(a.id);
  });

  it('drops its own uncommitted snapshots on close', async () => {
    const open = await store.snapshots.create(null);
    const done = await store.snapshots.commit((await store.snapshots.create(null)).id);
    store.close();
    const again = await temp.open();
    expect(again.snapshots.get(open.id)).toBeUndefined();
    expect(again.snapshots.get(done.id)?.committed).toBe(true);
    expect(await readdir(join(temp.root, 'snapshots'))).toEqual([String(done.id)]);
  });
});
