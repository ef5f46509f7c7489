/**
 * The image outputs checked by third-party tools: skopeo reads the docker and OCI archives,
 * umoci unpacks them, and docker loads the docker archive when a daemon answers.
 */
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/cache/index.ts';
import type { Store } from '../../src/cache/types.ts';
import { exportDockerArchive } from '../../src/exporter/docker-archive.ts';
import { assembleImage, ensureLayerBlobs } from '../../src/exporter/image.ts';
import { exportOciLayout } from '../../src/exporter/oci-layout.ts';
import type { ExportImage } from '../../src/exporter/types.ts';
import type { ImageConfig } from '../../src/shared/oci.ts';

const run = promisify(execFile);
const arch = process.arch === 'x64' ? 'amd64' : process.arch;

let work: string;
let store: Store;
let layerSnapshot: number;

async function makeBusyboxSnapshot(): Promise<number> {
  const snap = await store.snapshots.create(null, 'busybox rootfs');
  await mkdir(join(snap.dir, 'bin'), { recursive: true });
  await mkdir(join(snap.dir, 'etc'));
  await copyFile('/bin/busybox', join(snap.dir, 'bin/busybox'));
  await chmod(join(snap.dir, 'bin/busybox'), 0o755);
  for (const applet of ['sh', 'ls', 'echo'])
    await symlink('busybox', join(snap.dir, 'bin', applet));
  await store.snapshots.commit(snap.id);
  return snap.id;
}

async function buildImage(ociMediaTypes: boolean): Promise<ExportImage> {
  const layers = await ensureLayerBlobs(store, [layerSnapshot], { compression: 'gzip' });
  const config: ImageConfig = {
    architecture: arch,
    os: 'linux',
    config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'] },
    rootfs: { type: 'layers', diff_ids: [] },
    history: [{ created_by: 'COPY busybox /bin/busybox' }],
  };
  const image = await assembleImage({
    config,
    layers,
    ociMediaTypes,
    sourceDateEpoch: 0,
    blobs: store.blobs,
  });
  return { ...image, blobs: store.blobs };
}

async function inspect(
  transport: string,
): Promise<{ Architecture: string; Layers: string[]; Env: string[] }> {
  const { stdout } = await run('skopeo', ['inspect', transport]);
  return JSON.parse(stdout) as { Architecture: string; Layers: string[]; Env: string[] };
}

/** umoci-unpack `layout:tag` and check the rootfs holds a runnable busybox. */
async function expectUnpacksToBusybox(layoutRef: string, bundle: string): Promise<void> {
  await run('umoci', ['unpack', '--image', layoutRef, bundle]);
  const busybox = join(bundle, 'rootfs/bin/busybox');
  expect((await stat(busybox)).mode & 0o7777).toBe(0o755);
  const { stdout } = await run(join(bundle, 'rootfs/bin/sh'), ['-c', 'echo unpacked']);
  expect(stdout.trim()).toBe('unpacked');
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tbuild-e2e-exporter-'));
  store = await openStore({ root: join(work, 'store') });
  layerSnapshot = await makeBusyboxSnapshot();
});

afterAll(async () => {
  store?.close();
  await rm(work, { recursive: true, force: true });
});

describe('image archives', () => {
  it('reuses the compressed layer blob the second time a snapshot is exported', async () => {
    const [first] = await ensureLayerBlobs(store, [layerSnapshot], { compression: 'gzip' });
    const [again] = await ensureLayerBlobs(store, [layerSnapshot], { compression: 'gzip' });
    expect(again).toEqual(first);
    expect(store.snapshots.layerBlobs(layerSnapshot).map((b) => b.digest)).toContain(
      first!.descriptor.digest,
    );
    expect(store.snapshots.get(layerSnapshot)?.diffId).toBe(first!.diffId);
  });

  it('writes a docker archive that skopeo reads and umoci unpacks after a copy', async () => {
    const image = await buildImage(false);
    const archive = join(work, 'docker.tar');
    await exportDockerArchive(image, archive, { names: ['tbuild-test/busybox:1.0'] });
    const info = await inspect(`docker-archive:${archive}`);
    expect(info.Architecture).toBe(arch);
    expect(info.Layers).toHaveLength(1);
    expect(info.Env).toEqual(['PATH=/bin']);
    const manifest = JSON.parse(
      (await run('tar', ['-xOf', archive, 'manifest.json'])).stdout,
    ) as Array<{ RepoTags: string[]; Layers: string[] }>;
    expect(manifest[0]!.RepoTags).toEqual(['tbuild-test/busybox:1.0']);
    await run('skopeo', ['copy', `docker-archive:${archive}`, `oci:${join(work, 'copied')}:1.0`]);
    await expectUnpacksToBusybox(`${join(work, 'copied')}:1.0`, join(work, 'bundle-docker'));
  });

  it('writes the same bytes twice with SOURCE_DATE_EPOCH', async () => {
    const image = await buildImage(true);
    await exportOciLayout(image, join(work, 'a.tar'), { names: ['app:1'], sourceDateEpoch: 0 });
    await exportOciLayout(image, join(work, 'b.tar'), { names: ['app:1'], sourceDateEpoch: 0 });
    expect(await readFile(join(work, 'a.tar'))).toEqual(await readFile(join(work, 'b.tar')));
  });

  it('writes an OCI archive and an OCI layout directory that skopeo and umoci read', async () => {
    const image = await buildImage(true);
    const archive = join(work, 'oci.tar');
    await exportOciLayout(image, archive, { names: ['busybox:1.0'] });
    const info = await inspect(`oci-archive:${archive}:1.0`);
    expect(info.Layers).toEqual(image.layers.map((l) => l.digest));
    const layout = join(work, 'layout');
    await exportOciLayout(image, layout, { names: ['busybox:1.0'], directory: true });
    await exportOciLayout(image, layout, { names: ['busybox:2.0'], directory: true });
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
      manifests: Array<{ annotations: Record<string, string> }>;
    };
    expect(index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name'])).toEqual([
      '1.0',
      '2.0',
    ]);
    await expectUnpacksToBusybox(`${layout}:2.0`, join(work, 'bundle-oci'));
  });

  it('loads into docker when a daemon answers', async (ctx) => {
    const daemon = await run('docker', ['info']).then(
      () => true,
      () => false,
    );
    if (!daemon) {
      console.log('skipping docker load: no Docker daemon answers `docker info`');
      ctx.skip();
    }
    const image = await buildImage(false);
    const archive = join(work, 'load.tar');
    await exportDockerArchive(image, archive, { names: ['tbuild-e2e/busybox:load'] });
    const { stdout } = await run('docker', ['load', '-i', archive]);
    expect(stdout).toContain('tbuild-e2e/busybox:load');
    await run('docker', ['rmi', 'tbuild-e2e/busybox:load']);
  });
});
