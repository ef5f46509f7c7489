/**
 * `tbuild check [--repair]` on a real store that the test damages (issue 14, item 10):
 * a deleted snapshot directory, a corrupted blob, a snapshot gone with its blob. Check
 * names each problem and exits 1; --repair unpacks the snapshot again from its blob or
 * drops what depends on what is lost; builds, saves and pulls then work again. A build
 * that meets a missing snapshot restores it by itself, and save refuses a corrupt blob.
 */
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/cache/index.ts';
import type { Digest } from '../../src/shared/digest.ts';
import { makeTestImage, pushTestImage, startRegistry } from '../helpers/registry.ts';
import type { TestImage, TestRegistry } from '../helpers/registry.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';

describe('tbuild check', () => {
  let registry: TestRegistry;
  let work: string;
  let root: string;
  let context: string;
  let base: string;
  let image: TestImage;

  beforeAll(async () => {
    registry = await startRegistry();
    work = await mkdtemp(join(tmpdir(), 'tbuild-check-'));
    root = join(work, 'store');
    image = await makeTestImage({ 'etc/base.txt': 'base layer\n'.repeat(100) });
    base = `${registry.host}/check/base:1`;
    await pushTestImage(base, image);
    context = join(work, 'context');
    await mkdir(context);
    await writeFile(join(context, 'Dockerfile'), `FROM ${base}\nCOPY a.txt /a.txt\n`);
    await writeFile(join(context, 'a.txt'), 'app\n');
  });
  afterAll(async () => {
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const tbuild = (...args: string[]) => runTbuild([...args, '--root', root]);
  const build = (...extra: string[]) =>
    runTbuild(['build', '--root', root, '-t', 'app', ...extra, context]);
  async function snapshotOf(name: string): Promise<{ id: number; dir: string; blobs: Digest[] }> {
    const store = await openStore({ root });
    try {
      const id = store.images.get(name)!.snapshot!;
      return {
        id,
        dir: join(store.snapshots.dir, String(id)),
        blobs: store.snapshots.layerBlobs(id).map((b) => b.digest),
      };
    } finally {
      store.close();
    }
  }
  function expectOk(result: { code: number | null; stderr: string }) {
    expect(result.stderr).not.toContain('ERROR');
    expect(result.code).toBe(0);
  }

  it('finds nothing wrong in an intact store', async () => {
    expectOk(await tbuild('pull', base));
    expectOk(await build());
    const result = await tbuild('check');
    expectOk(result);
    expect(result.stdout).toMatch(
      /Checked \d+ blobs, \d+ snapshots, 2 images .*: no problems found/,
    );
  });

  it('finds a deleted snapshot directory; builds and --repair unpack it again from its blob', async () => {
    const snap = await snapshotOf(`${base}`);
    await rm(snap.dir, { recursive: true });
    const found = await tbuild('check');
    expect(found.code).toBe(1);
    expect(found.stdout).toContain(`snapshot ${snap.id} (`);
    expect(found.stdout).toContain('is missing');
    expect(found.stderr).toContain('tbuild check --repair');
    // A build on that base restores the snapshot by itself instead of failing to mount.
    expectOk(await build('--no-cache', '-o', `type=tar,dest=${join(work, 'fs.tar')}`));
    expect(existsSync(snap.dir)).toBe(true);
    await rm(snap.dir, { recursive: true });
    const repaired = await tbuild('check', '--repair');
    expectOk(repaired);
    expect(repaired.stdout).toContain(`unpacked again from its layer blob`);
    expect(existsSync(join(snap.dir, 'fs', 'etc', 'base.txt'))).toBe(true);
    expectOk(await tbuild('check'));
  });

  it('finds a corrupt blob: save refuses it, --repair drops it and the images that need it, pull fetches it again', async () => {
    const path = join(root, 'blobs', 'sha256', image.layerDigest.slice(7));
    const handle = await open(path, 'r+');
    await handle.write(Buffer.from('X'), 0, 1, 100);
    await handle.close();
    const saved = await tbuild('save', '-o', join(work, 'base.tar'), base);
    expect(saved.code).not.toBe(0);
    expect(saved.stderr).toContain(`stored blob ${image.layerDigest}`);
    const found = await tbuild('check');
    expect(found.code).toBe(1);
    expect(found.stdout).toContain(`blob ${image.layerDigest} is corrupt`);
    const repaired = await tbuild('check', '--repair');
    expectOk(repaired);
    expect(repaired.stdout).toContain(
      `blob ${image.layerDigest} is corrupt: its bytes hash to sha256:`,
    );
    expect(repaired.stdout).toContain(
      `image ${base}: layer blob ${image.layerDigest} is missing or corrupt: image reference removed`,
    );
    const pulled = await tbuild('pull', base);
    expectOk(pulled);
    expect(pulled.stdout).toContain('Downloaded newer image');
    expectOk(await build());
    expectOk(await tbuild('save', '-o', join(work, 'base.tar'), base));
    expectOk(await tbuild('check'));
  });

  it('drops a snapshot lost with its blob, and what was built on it; the next build makes it again', async () => {
    const snap = await snapshotOf('docker.io/library/app:latest');
    await rm(snap.dir, { recursive: true });
    for (const digest of snap.blobs) await rm(join(root, 'blobs', 'sha256', digest.slice(7)));
    const repaired = await tbuild('check', '--repair');
    expectOk(repaired);
    expect(repaired.stdout).toContain(`snapshot ${snap.id}`);
    expect(repaired.stdout).toContain(
      'dropped, with the snapshots, cache records and images built on it',
    );
    expect(repaired.stdout).toMatch(
      /cache record sha256:\w+ .*names snapshot \d+, which is gone: cache record removed/,
    );
    expectOk(await tbuild('check'));
    expectOk(await build());
    expectOk(await tbuild('check'));
  });
});
