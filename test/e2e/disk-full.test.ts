/**
 * A full disk during pull and build (issue 14, item 9): one clear error naming the disk
 * and what was being written, exit 1, no "unsettled top-level await", no internal error,
 * nothing partial left in the store; after space is freed the same command works. The
 * store sits on a real tmpfs of a few MiB (mounting needs root, as the e2e suite has).
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestImage, pushTestImage, startRegistry } from '../helpers/registry.ts';
import type { TestRegistry } from '../helpers/registry.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';

const isRoot = process.getuid?.() === 0;

describe.runIf(isRoot)('a full disk', () => {
  let registry: TestRegistry;
  let work: string;
  let disk: string;
  let image: string;

  beforeAll(async () => {
    registry = await startRegistry();
    work = await mkdtemp(join(tmpdir(), 'tbuild-diskfull-'));
    disk = join(work, 'disk');
    await mkdir(disk);
    // An 8 MiB layer of incompressible text: larger than the small disks below.
    const built = await makeTestImage({
      'big.txt': randomBytes(6 * 1024 * 1024).toString('base64'),
    });
    image = `${registry.host}/diskfull/big:1`;
    await pushTestImage(image, built);
  });
  afterAll(async () => {
    if (disk) execFileSync('umount', ['-l', disk], { stdio: 'ignore' });
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** A fresh tmpfs of `size` at `disk` (unmounting the last one). */
  function mountDisk(size: string): string {
    try {
      execFileSync('umount', [disk], { stdio: 'ignore' });
    } catch {
      // nothing mounted yet
    }
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', disk]);
    return join(disk, 'store');
  }
  const grow = () => execFileSync('mount', ['-o', 'remount,size=64m', disk]);

  function expectDiskFullError(result: { code: number | null; stderr: string }, root: string) {
    expect(result.stderr).not.toMatch(/bug in tbuild|unsettled top-level await|ERROR \(internal\)/);
    expect(result.stderr).toContain(`no space left on device: the disk holding ${root} is full`);
    expect(result.stderr).toContain('hint: Free space');
    expect(result.code).toBe(1);
  }

  it('fails a pull clearly, and the pull works once space is freed', async () => {
    for (const size of ['6m', '12m']) {
      // 6 MiB: the blob does not fit; 12 MiB: the blob fits, but not with its unpacked
      // layer, which is written while the blob downloads: either write may find the disk
      // full first.
      const root = mountDisk(size);
      const result = await runTbuild(['pull', '--root', root, image]);
      expectDiskFullError(result, root);
      expect(result.stderr).toMatch(
        size === '6m' ? /\(writing blob sha256:/ : /\((writing blob sha256:|unpacking layer)/,
      );
      expect(await readdir(join(root, 'tmp'))).toEqual([]);
      grow();
      const again = await runTbuild(['pull', '--root', root, image]);
      expect(again.stderr).not.toContain('ERROR');
      expect(again.code).toBe(0);
    }
  });

  it('fails a build clearly, and the build works once space is freed', async () => {
    const root = mountDisk('12m');
    const context = join(work, 'context');
    await mkdir(context, { recursive: true });
    await writeFile(join(context, 'Dockerfile'), `FROM ${image}\nCOPY a.txt /a.txt\n`);
    await writeFile(join(context, 'a.txt'), 'a\n');
    const args = ['build', '--root', root, '-o', `type=oci,dest=${join(work, 'out.tar')}`, context];
    expectDiskFullError(await runTbuild(args), root);
    grow();
    const again = await runTbuild(args);
    expect(again.stderr).not.toContain('ERROR');
    expect(again.code).toBe(0);
  });
});
