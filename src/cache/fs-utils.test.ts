import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { measureTree } from './fs-utils.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Files of 1..n bytes in nested directories, a symlink, and a hard link (counted once). */
async function makeTree(root: string, files: number): Promise<number> {
  let expected = 0;
  for (let i = 1; i <= files; i++) {
    const sub = join(root, `d${i % 9}`, `e${i % 4}`);
    await mkdir(sub, { recursive: true });
    await writeFile(join(sub, `f${i}`), Buffer.alloc(i % 700));
    expected += i % 700;
  }
  await writeFile(join(root, 'shared'), 'twelve bytes');
  await link(join(root, 'shared'), join(root, 'd1', 'shared-link'));
  await symlink('shared', join(root, 'to-shared')); // a symlink's size is its target's length
  return expected + 'twelve bytes'.length + 'shared'.length;
}

describe('measureTree', () => {
  it('sums file and symlink sizes, hard links once, for a small tree (measured in process)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tbuild-measure-'));
    expect(await measureTree(dir)).toBe(0);
    const expected = await makeTree(dir, 150);
    expect(await measureTree(dir)).toBe(expected);
  });

  it('gives the same sum for a tree too big to measure in process (measured by find)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tbuild-measure-'));
    const expected = await makeTree(dir, 2500);
    expect(await measureTree(dir)).toBe(expected);
  });

  it('fails for a missing directory', async () => {
    await expect(measureTree(join(tmpdir(), 'tbuild-no-such-dir-x'))).rejects.toThrow();
  });
});
