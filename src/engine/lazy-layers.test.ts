import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTempRoot } from '../cache/test-helpers.ts';
import type { Store } from '../cache/types.ts';
import { ensureLayerBlob } from '../exporter/image.ts';
import { MediaType, type ImageConfig } from '../shared/oci.ts';
import { commitImage } from './commit-image.ts';

let temp: Awaited<ReturnType<typeof createTempRoot>>;
let store: Store;

const config: ImageConfig = {
  architecture: 'amd64',
  os: 'linux',
  config: { Cmd: ['/app'] },
  rootfs: { type: 'layers', diff_ids: [] },
  history: [{ created_by: 'COPY . /app' }],
};

async function makeSnapshot(): Promise<number> {
  const snap = await store.snapshots.create(null, 'COPY . /app');
  await mkdir(join(snap.dir, 'app'));
  for (let i = 0; i < 20; i++) await writeFile(join(snap.dir, 'app', `f${i}`), `file ${i}\n`);
  await store.snapshots.commit(snap.id);
  return snap.id;
}

beforeEach(async () => {
  temp = await createTempRoot();
  store = await temp.open();
});
afterEach(() => temp.cleanup());

describe('layers kept uncompressed until an output needs them (ADR 12)', () => {
  it('commits the store image without writing a layer blob, with the same image ID', async () => {
    const id = await makeSnapshot();
    const root = { kind: 'snapshot', id } as const;
    const local = await commitImage(store, root, config, {
      ociMediaTypes: false,
      localLayers: true,
    });
    const [layer] = local.layers;
    expect(layer!.mediaType).toBe(MediaType.DockerLayer);
    expect(layer!.digest).toBe(store.snapshots.get(id)!.diffId);
    expect(await store.blobs.has(layer!.digest)).toBe(false);
    expect(store.snapshots.layerBlobs(id)).toEqual([]);

    const pushed = await commitImage(store, root, config, { ociMediaTypes: false });
    expect(pushed.layers[0]!.mediaType).toBe(MediaType.DockerLayerGzip);
    expect(await store.blobs.has(pushed.layers[0]!.digest)).toBe(true);
    // The config names layers by diff ID: the image ID does not depend on compression.
    expect(pushed.config.descriptor.digest).toBe(local.config.descriptor.digest);
    // The store's image is the same after the push: its manifest still lists the tar.
    const again = await commitImage(store, root, config, {
      ociMediaTypes: false,
      localLayers: true,
    });
    expect(again.manifest.descriptor.digest).toBe(local.manifest.descriptor.digest);
  });

  it('compresses a layer once per compression and hands the remembered blob back after', async () => {
    const id = await makeSnapshot();
    const gzip = await ensureLayerBlob(store, id, { compression: 'gzip' });
    const recorded = store.snapshots.layerBlobs(id);
    expect(recorded.map((b) => b.compression)).toEqual(['gzip']);
    expect(await ensureLayerBlob(store, id, { compression: 'gzip' })).toEqual(gzip);
    // A layer this store built gets the compression asked for, even with a gzip blob made.
    const zstd = await ensureLayerBlob(store, id, { compression: 'zstd', reuse: ['gzip'] });
    expect(zstd.descriptor.mediaType).toBe(MediaType.OciLayerZstd);
    expect(zstd.diffId).toBe(gzip.diffId);
    expect(
      store.snapshots
        .layerBlobs(id)
        .map((b) => b.compression)
        .sort(),
    ).toEqual(['gzip', 'zstd']);
  });
});
