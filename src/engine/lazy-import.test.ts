import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTempRoot } from '../cache/test-helpers.ts';
import type { Store } from '../cache/types.ts';
import { ensureLayerBlob } from '../exporter/image.ts';
import { TbuildError } from '../shared/errors.ts';
import type { Descriptor } from '../shared/oci.ts';
import { commitImage } from './commit-image.ts';
import {
  createLazySnapshot,
  isLazyLayer,
  isRestorable,
  isUnpacked,
  settleLazyLayers,
  type LazyLayerSource,
} from './lazy-layers.ts';
import { createResultCache } from './result-cache.ts';
import { SnapshotMissingError, snapshotChain } from './store-check.ts';

let temps: Array<Awaited<ReturnType<typeof createTempRoot>>>;
let origin: Store;
let store: Store;

beforeEach(async () => {
  temps = [await createTempRoot(), await createTempRoot()];
  origin = await temps[0]!.open();
  store = await temps[1]!.open();
});
afterEach(async () => {
  for (const temp of temps) await temp.cleanup();
});

/** A two-layer chain built in `origin`, as a cache would carry it: blobs and diff ids. */
async function originLayers() {
  const layers: Array<{ descriptor: Descriptor; diffId: `sha256:${string}`; bytes: Buffer }> = [];
  let parent: number | null = null;
  for (const name of ['base', 'app']) {
    const snap = await origin.snapshots.create(parent, name);
    await mkdir(join(snap.dir, name));
    for (let i = 0; i < 5; i++) await writeFile(join(snap.dir, name, `f${i}`), `${name} ${i}\n`);
    await origin.snapshots.commit(snap.id);
    const layer = await ensureLayerBlob(origin, snap.id, { compression: 'gzip' });
    layers.push({
      descriptor: layer.descriptor,
      diffId: layer.diffId,
      bytes: await origin.blobs.read(layer.descriptor.digest),
    });
    parent = snap.id;
  }
  return layers;
}

function sourceOf(layer: { descriptor: Descriptor; bytes: Buffer }, fetched: string[]) {
  return {
    descriptor: layer.descriptor,
    what: 'test cache',
    fetch: async () => {
      fetched.push(layer.descriptor.digest);
      return Readable.from([layer.bytes]);
    },
  } satisfies LazyLayerSource;
}

async function lazyChain(fetched: string[], bytes?: (i: number, b: Buffer) => Buffer) {
  let parent: number | null = null;
  for (const [i, layer] of (await originLayers()).entries()) {
    const given = bytes ? { ...layer, bytes: bytes(i, layer.bytes) } : layer;
    parent = await createLazySnapshot(
      store,
      parent,
      { diffId: layer.diffId, createdAt: 1_000 * (i + 1), description: `layer ${i}` },
      sourceOf(given, fetched),
    );
  }
  return parent!;
}

/** Restore temp directories left in the store's per-process temp directories. */
async function leftoverRestores(): Promise<string[]> {
  const tmp = join(temps[1]!.root, 'tmp');
  const leases = await readdir(tmp).catch(() => []);
  const names = await Promise.all(leases.map((lease) => readdir(join(tmp, lease))));
  return names.flat().filter((name) => name.startsWith('restore-'));
}

describe('lazy layers of an imported cache (ADR 11)', () => {
  it('commits without files or blob, lists the cache blob in the image, fetches nothing', async () => {
    const fetched: string[] = [];
    const top = await lazyChain(fetched);
    const chain = store.snapshots.chain(top);
    expect(chain.every((s) => s.committed && !isUnpacked(s) && isLazyLayer(s))).toBe(true);
    expect(chain.every((s) => isRestorable(store, s))).toBe(true);
    const image = await commitImage(
      store,
      { kind: 'snapshot', id: top },
      { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] } },
      { localLayers: true, ociMediaTypes: false },
    );
    expect(image.layers.map((l) => l.mediaType)).toEqual([
      'application/vnd.docker.image.rootfs.diff.tar.gzip',
      'application/vnd.docker.image.rootfs.diff.tar.gzip',
    ]);
    expect(fetched).toEqual([]);
    // A result on it is a hit while its source is known…
    store.cache.put('sha256:aa', [{ snapshot: top }]);
    expect(await createResultCache(store).get('sha256:aa')).toEqual([
      { kind: 'snapshot', id: top },
    ]);
  });

  it('fetches and unpacks every missing layer of a chain when it is mounted', async () => {
    const fetched: string[] = [];
    const top = await lazyChain(fetched);
    const chain = await snapshotChain(store, top);
    expect(fetched).toHaveLength(2);
    expect(chain.every(isUnpacked)).toBe(true);
    expect(await readFile(join(chain[0]!.dir, 'app', 'f3'), 'utf8')).toBe('app 3\n');
    expect(await readFile(join(chain[1]!.dir, 'base', 'f0'), 'utf8')).toBe('base 0\n');
    // Once: a second mount fetches nothing.
    await snapshotChain(store, top);
    expect(fetched).toHaveLength(2);
  });

  it('settles a stored image: blobs fetched and recorded, nothing unpacked', async () => {
    const fetched: string[] = [];
    const top = await lazyChain(fetched);
    expect(await settleLazyLayers(store, top)).toBe(2);
    for (const s of store.snapshots.chain(top)) {
      expect(isUnpacked(s)).toBe(false);
      const [blob] = store.snapshots.layerBlobs(s.id);
      expect(blob && (await store.blobs.has(blob.digest))).toBe(true);
    }
  });

  it('refuses a blob that does not match its digest, and keeps none of it', async () => {
    const fetched: string[] = [];
    const top = await lazyChain(fetched, (i, b) => (i === 1 ? Buffer.from('not this layer') : b));
    const error = await snapshotChain(store, top).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SnapshotMissingError);
    expect((error as Error).message).toMatch(/mismatch/);
    const info = store.snapshots.get(top)!;
    expect(existsSync(info.dir)).toBe(false);
    expect(store.snapshots.layerBlobs(top)).toEqual([]);
  });

  it('unpacks while downloading, but places nothing from bytes whose digest is wrong', async () => {
    const fetched: string[] = [];
    // The same tar compressed otherwise: it unpacks to the right diff id, but it is not
    // the blob the cache lists.
    const top = await lazyChain(fetched, (i, b) =>
      i === 1 ? gzipSync(gunzipSync(b), { level: 1 }) : b,
    );
    const error = await snapshotChain(store, top).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SnapshotMissingError);
    expect((error as Error).message).toMatch(/could not be fetched from test cache: .*mismatch/);
    expect(existsSync(store.snapshots.get(top)!.dir)).toBe(false);
    expect(store.snapshots.layerBlobs(top)).toEqual([]);
    expect(await leftoverRestores()).toEqual([]);
  });

  it('places nothing when the download breaks off, and a later mount fetches again', async () => {
    const fetched: string[] = [];
    let broken = true;
    let parent: number | null = null;
    for (const layer of await originLayers()) {
      const source = sourceOf(layer, fetched);
      parent = await createLazySnapshot(
        store,
        parent,
        { diffId: layer.diffId, description: 'layer' },
        {
          ...source,
          fetch: async () => {
            if (!broken) return source.fetch();
            fetched.push(layer.descriptor.digest);
            return Readable.from(
              (async function* () {
                yield layer.bytes.subarray(0, 20);
                throw new TbuildError('TBUILD_TEST_RESET', 'connection reset');
              })(),
            );
          },
        },
      );
    }
    const error = await snapshotChain(store, parent!).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SnapshotMissingError);
    expect((error as Error).message).toMatch(
      /could not be fetched from test cache: connection reset/,
    );
    expect(store.snapshots.chain(parent!).some(isUnpacked)).toBe(false);
    broken = false;
    const chain = await snapshotChain(store, parent!);
    expect(chain.every(isUnpacked)).toBe(true);
    expect(await readFile(join(chain[0]!.dir, 'app', 'f3'), 'utf8')).toBe('app 3\n');
    expect(fetched).toHaveLength(4);
    expect(await leftoverRestores()).toEqual([]);
  });

  it('is not a hit in a process that does not know where the blobs are', async () => {
    const top = await lazyChain([]);
    store.cache.put('sha256:bb', [{ snapshot: top }]);
    // Another process's view of the store: the sources were this process's only.
    const reopened = await temps[1]!.open();
    expect(isRestorable(reopened, reopened.snapshots.get(top)!)).toBe(false);
    expect(await createResultCache(reopened).get('sha256:bb')).toBeUndefined();
  });
});
