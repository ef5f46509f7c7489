import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256 } from '../shared/digest.ts';
import { createTempRoot } from './test-helpers.ts';
import type { Store } from './types.ts';

let temp: Awaited<ReturnType<typeof createTempRoot>>;
let store: Store;
beforeEach(async () => {
  temp = await createTempRoot();
  store = await temp.open();
});
afterEach(() => temp.cleanup());

/** Whether `change` moved the store's generation. */
async function moves(change: () => unknown): Promise<boolean> {
  const before = store.generation();
  await change();
  return store.generation() !== before;
}

describe("the store's generation", () => {
  it('counts what a build reads (names, cache records, snapshots), not use times', async () => {
    const open = await store.snapshots.create(null);
    expect(await moves(() => undefined)).toBe(false);
    // A snapshot being written is nothing a build can use yet; committing it is.
    const created = await store.snapshots.create(null);
    expect(await moves(() => store.snapshots.commit(created.id))).toBe(true);
    const snapshot = created.id;
    expect(await moves(() => store.cache.put(sha256('k'), [{ snapshot }], 'RUN a'))).toBe(true);
    // A lookup refreshes the record's use time, which is not a change.
    expect(await moves(() => store.cache.get(sha256('k')))).toBe(false);
    expect(await moves(() => store.snapshots.touch(snapshot))).toBe(false);
    expect(await moves(() => store.cache.put(sha256('k'), [{ empty: true }]))).toBe(true);

    const manifest = (await store.blobs.put('{"schemaVersion":2}')).digest;
    const config = (await store.blobs.put('{}')).digest;
    const image = { name: 'docker.io/library/app:1', manifest, config, snapshot, createdAt: 1 };
    expect(await moves(() => store.images.set(image))).toBe(true);
    // The same image named again (every no-op build does it) changes nothing.
    expect(await moves(() => store.images.set({ ...image, createdAt: 2 }))).toBe(false);
    const other = (await store.blobs.put('{"other":1}')).digest;
    expect(await moves(() => store.images.set({ ...image, config: other }))).toBe(true);
    expect(await moves(() => store.images.delete(image.name))).toBe(true);
    expect(await moves(() => store.cache.delete(sha256('k')))).toBe(true);
    // An unfinished snapshot going (a failed step's) is not one; a committed one is.
    expect(await moves(() => store.snapshots.remove(open.id))).toBe(false);
    expect(await moves(() => store.snapshots.remove(snapshot))).toBe(true);
  });

  it('sees another process’s changes', async () => {
    const other = await temp.open();
    const before = store.generation();
    const created = await other.snapshots.create(null);
    await other.snapshots.commit(created.id);
    expect(store.generation()).not.toBe(before);
  });
});
