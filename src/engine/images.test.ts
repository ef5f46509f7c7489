import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTempRoot } from '../cache/test-helpers.ts';
import type { Store } from '../cache/types.ts';
import { createRegistryClient } from '../registry/client.ts';
import { createImageProvider } from './images.ts';

let temp: Awaited<ReturnType<typeof createTempRoot>>;
let store: Store;
beforeEach(async () => {
  temp = await createTempRoot();
  store = await temp.open();
});
afterEach(() => temp.cleanup());

/** A loopback port nothing listens on: connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function storeAmd64Image(name: string): Promise<string> {
  const config = await store.blobs.put(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [] },
    }),
  );
  const manifest = await store.blobs.put(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: config.digest,
        size: config.size,
      },
      layers: [],
    }),
  );
  store.images.set({
    name,
    manifest: manifest.digest,
    config: config.digest,
    snapshot: null,
    createdAt: Date.now(),
  });
  return manifest.digest;
}

describe('base images for another platform than the stored one', () => {
  it('use the stored image when the registry cannot be reached (the frontend then warns)', async () => {
    const name = `127.0.0.1:${await closedPort()}/busybox:latest`;
    const manifest = await storeAmd64Image(name);
    const images = createImageProvider({
      store,
      registry: async () =>
        createRegistryClient({ insecureRegistries: [name.split('/')[0]!], retries: 0 }),
    });
    const resolved = await images.resolve(name, { os: 'linux', architecture: 'arm64' }, false);
    expect(resolved).toMatchObject({ origin: 'store', manifestDigest: manifest });
    expect(resolved.config.architecture).toBe('amd64');
  });

  it('still fail with --pull, which insists on the registry', async () => {
    const name = `127.0.0.1:${await closedPort()}/busybox:latest`;
    await storeAmd64Image(name);
    const images = createImageProvider({
      store,
      registry: async () =>
        createRegistryClient({ insecureRegistries: [name.split('/')[0]!], retries: 0 }),
    });
    await expect(
      images.resolve(name, { os: 'linux', architecture: 'arm64' }, true),
    ).rejects.toMatchObject({
      code: 'TBUILD_REGISTRY_REQUEST',
    });
  });
});
