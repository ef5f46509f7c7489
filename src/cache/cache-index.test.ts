import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256 } from '../shared/digest.ts';
import { BlobNotFoundError, SnapshotStateError } from './errors.ts';
import { createTempRoot } from './test-helpers.ts';
import type { Store } from './types.ts';

let temp: Awaited<ReturnType<typeof createTempRoot>>;
let store: Store;
beforeEach(async () => {
  temp = await createTempRoot();
  store = await temp.open();
});
afterEach(() => temp.cleanup());

describe('cache index', () => {
  it('maps a cache key to its results and lists records for export', async () => {
    const snap = await store.snapshots.commit((await store.snapshots.create(null)).id);
    store.cache.put(sha256('k1'), [{ snapshot: snap.id }, { empty: true }], 'RUN make');
    const record = store.cache.get(sha256('k1'));
    expect(record).toMatchObject({
      key: sha256('k1'),
      results: [{ snapshot: snap.id }, { empty: true }],
      description: 'RUN make',
    });
    expect(store.cache.get(sha256('k2'))).toBeUndefined();
    expect(store.cache.list().map((r) => r.key)).toEqual([sha256('k1')]);
  });

  it('replaces results on a second put and forgets deleted keys', async () => {
    const a = await store.snapshots.commit((await store.snapshots.create(null)).id);
    store.cache.put(sha256('k'), [{ snapshot: a.id }]);
    store.cache.put(sha256('k'), [{ empty: true }]);
    expect(store.cache.get(sha256('k'))?.results).toEqual([{ empty: true }]);
    store.cache.delete(sha256('k'));
    expect(store.cache.list()).toEqual([]);
  });

  it('never points at a snapshot that is still being written', async () => {
    const open = await store.snapshots.create(null);
    expect(() => store.cache.put(sha256('k'), [{ snapshot: open.id }])).toThrow(SnapshotStateError);
    expect(store.cache.get(sha256('k'))).toBeUndefined();
  });
});

describe('image references', () => {
  it('tags, lists, re-tags and untags images', async () => {
    const manifest = await store.blobs.put('{"schemaVersion":2}');
    const config = await store.blobs.put('{}');
    const image = {
      name: 'docker.io/library/app:1.0',
      manifest: manifest.digest,
      config: config.digest,
      snapshot: null,
      createdAt: 5,
    };
    store.images.set(image);
    store.images.set({ ...image, name: 'docker.io/library/app:latest' });
    expect(store.images.get('docker.io/library/app:1.0')).toEqual(image);
    expect(store.images.list().map((i) => i.name)).toEqual([
      'docker.io/library/app:1.0',
      'docker.io/library/app:latest',
    ]);
    expect(store.images.delete('docker.io/library/app:1.0')).toBe(true);
    expect(store.images.delete('docker.io/library/app:1.0')).toBe(false);
    expect(await store.blobs.has(manifest.digest)).toBe(true);
  });

  it('refuses an image whose manifest is not in the store', async () => {
    const config = await store.blobs.put('{}');
    expect(() =>
      store.images.set({
        name: 'a:1',
        manifest: sha256('missing'),
        config: config.digest,
        snapshot: null,
        createdAt: 0,
      }),
    ).toThrow(BlobNotFoundError);
  });
});
