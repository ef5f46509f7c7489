import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRegistryClient,
  RegistryNotFoundError,
  PlatformNotFoundError,
} from '../../src/registry/index.ts';
import type { RegistryClient } from '../../src/registry/index.ts';
import { makeTestImage, startFaultProxy, startRegistry } from '../helpers/registry.ts';
import type { FaultProxy, TestImage, TestRegistry } from '../helpers/registry.ts';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function pushImage(
  client: RegistryClient,
  repo: string,
  tag: string,
  image: TestImage,
  mountFrom?: string,
) {
  const outcomes = [];
  for (const [digest, bytes] of [
    [image.layerDigest, image.layer],
    [image.configDigest, image.config],
  ] as const) {
    outcomes.push(
      await client.uploadBlob(
        repo,
        digest,
        bytes.length,
        () => Readable.from([bytes]),
        mountFrom ? { mountFrom } : {},
      ),
    );
  }
  await client.putManifest(
    `${repo}:${tag}`,
    image.manifest,
    'application/vnd.oci.image.manifest.v1+json',
  );
  return outcomes;
}

describe('pushing to and pulling from a registry', () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  let client: RegistryClient;
  let image: TestImage;

  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(`127.0.0.1:${registry.port}`);
    client = createRegistryClient({ retryBaseDelayMs: 10 });
    image = await makeTestImage({ 'hello.txt': 'hello from tbuild\n' });
  });
  afterAll(async () => {
    await client?.close();
    await proxy?.stop();
    await registry?.stop();
  });

  it('pushes a small image and pulls back the same bytes', async () => {
    const outcomes = await pushImage(client, `${registry.host}/demo/app`, '1.0', image);
    expect(outcomes).toEqual(['uploaded', 'uploaded']);

    const resolved = await client.resolve(`${registry.host}/demo/app:1.0`, {
      os: 'linux',
      architecture: 'amd64',
    });
    expect(resolved.digest).toBe(image.manifestDigest);
    expect(resolved.body.equals(image.manifest)).toBe(true);
    expect(resolved.config.rootfs.diff_ids).toEqual([image.layerDigest]);

    const layer = await readAll(
      await client.fetchBlob(`${registry.host}/demo/app`, image.layerDigest),
    );
    expect(layer.equals(image.layer)).toBe(true);
    const head = await client.headManifest(`${registry.host}/demo/app:1.0`);
    expect(head).toMatchObject({ digest: image.manifestDigest, size: image.manifest.length });
  });

  it('skips blobs the repository already has (HEAD) and uploads nothing', async () => {
    const repo = `${proxy.host}/demo/app`;
    const before = proxy.requests.length;
    const outcomes = await pushImage(client, repo, '1.1', image);
    const sent = proxy.requests.slice(before);
    expect(outcomes).toEqual(['exists', 'exists']);
    expect(sent.filter((r) => r.path.includes('/blobs/uploads'))).toEqual([]);
    expect(sent.filter((r) => r.method === 'HEAD')).toHaveLength(2);
  });

  it('mounts blobs from another repository instead of uploading them', async () => {
    const before = proxy.requests.length;
    const outcomes = await pushImage(
      client,
      `${proxy.host}/other/app`,
      '1.0',
      image,
      `${proxy.host}/demo/app`,
    );
    const sent = proxy.requests.slice(before);
    expect(outcomes).toEqual(['mounted', 'mounted']);
    expect(sent.filter((r) => r.method === 'POST' && r.path.includes('mount='))).toHaveLength(2);
    expect(
      sent.filter(
        (r) => r.method === 'PATCH' || (r.method === 'PUT' && r.path.includes('/blobs/')),
      ),
    ).toEqual([]);
    const pulled = await client.getManifest(`${registry.host}/other/app:1.0`);
    expect(pulled.digest).toBe(image.manifestDigest);
  });

  it('uploads a large blob in chunks and the registry stores it intact', async () => {
    const chunked = createRegistryClient({
      chunkedUploadThreshold: 1000,
      chunkSize: 4096,
      retryBaseDelayMs: 10,
    });
    try {
      const big = await makeTestImage({ 'data.bin': 'x'.repeat(20_000) + 'end' });
      const before = proxy.requests.length;
      await pushImage(chunked, `${proxy.host}/demo/big`, 'latest', big);
      const patches = proxy.requests.slice(before).filter((r) => r.method === 'PATCH');
      expect(patches.length).toBeGreaterThanOrEqual(Math.ceil(big.layer.length / 4096));
      const layer = await readAll(
        await chunked.fetchBlob(`${registry.host}/demo/big`, big.layerDigest),
      );
      expect(layer.equals(big.layer)).toBe(true);
    } finally {
      await chunked.close();
    }
  });

  it('pushes a multi-platform index and picks the manifest for a platform', async () => {
    const arm = await makeTestImage(
      { 'arch.txt': 'arm64\n' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    );
    const repo = `${registry.host}/demo/multi`;
    await pushImage(client, repo, 'amd64-only', image);
    await pushImage(client, repo, 'arm64-only', arm);
    const indexDigest = await client.putIndex(`${repo}:latest`, {
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: image.manifestDigest,
          size: image.manifest.length,
          platform: { os: 'linux', architecture: 'amd64' },
        },
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: arm.manifestDigest,
          size: arm.manifest.length,
          platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
        },
      ],
    });
    const index = await client.getManifest(`${repo}:latest`);
    expect(index.digest).toBe(indexDigest);
    expect(index.index?.manifests).toHaveLength(2);

    const resolved = await client.resolve(`${repo}:latest`, { os: 'linux', architecture: 'arm64' });
    expect(resolved.digest).toBe(arm.manifestDigest);
    expect(resolved.indexDigest).toBe(indexDigest);
    expect(resolved.config.architecture).toBe('arm64');

    await expect(
      client.resolve(`${repo}:latest`, { os: 'linux', architecture: 's390x' }),
    ).rejects.toThrow(PlatformNotFoundError);
  });

  it('reports a missing tag as a typed error naming the image', async () => {
    const error = await client
      .getManifest(`${registry.host}/demo/app:nope`)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryNotFoundError);
    expect((error as Error).message).toContain(`${registry.host}/demo/app:nope`);
    expect((error as RegistryNotFoundError).code).toBe('TBUILD_REGISTRY_NOT_FOUND');
  });
});
