import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  exportLayersToDirectory,
  exportLayersToTar,
  exportMergedToDirectory,
} from './filesystem.ts';
import { makeWhiteouts } from './special-files.ts';
import {
  cleanupTempDirs,
  describeTree,
  exists,
  makeFixtureLayer,
  makeTempDir,
} from './test-helpers.ts';
import { writeXattrs } from './xattrs.ts';

afterAll(cleanupTempDirs);

/** lower: a/x, a/y, c/old, link; upper: whiteout a/x, opaque c with c/new, a file where link was. */
async function makeTwoLayers(): Promise<[string, string]> {
  const lower = await makeTempDir();
  const upper = await makeTempDir();
  await mkdir(join(lower, 'a'));
  await mkdir(join(lower, 'c'));
  await writeFile(join(lower, 'a/x'), 'x');
  await writeFile(join(lower, 'a/y'), 'y');
  await writeFile(join(lower, 'c/old'), 'old');
  await mkdir(join(lower, 'link'));
  await mkdir(join(upper, 'a'));
  await mkdir(join(upper, 'c'));
  await makeWhiteouts([join(upper, 'a/x')]);
  await writeFile(join(upper, 'c/new'), 'new');
  await writeXattrs(
    new Map([[join(upper, 'c'), new Map([['trusted.overlay.opaque', Buffer.from('y')]])]]),
  );
  await writeFile(join(upper, 'link'), 'a file replaces the directory');
  return [lower, upper];
}

describe('filesystem outputs', () => {
  it('applies layers in order the way overlayfs merges them', async () => {
    const dest = join(await makeTempDir(), 'out');
    await exportLayersToDirectory(await makeTwoLayers(), dest);
    expect(await exists(join(dest, 'a/x'))).toBe(false);
    expect(await readFile(join(dest, 'a/y'), 'utf8')).toBe('y');
    expect(await exists(join(dest, 'c/old'))).toBe(false);
    expect(await readFile(join(dest, 'c/new'), 'utf8')).toBe('new');
    expect(await readFile(join(dest, 'link'), 'utf8')).toBe('a file replaces the directory');
    expect((await describeTree(dest)).some((line) => line.includes('trusted.overlay'))).toBe(false);
  });

  it('keeps modes, owners, links, devices and capabilities when applying one layer', async () => {
    const layer = await makeTempDir();
    await makeFixtureLayer(layer);
    const dest = join(await makeTempDir(), 'out');
    await exportLayersToDirectory([layer], dest);
    const expected = (await describeTree(layer))
      .filter((line) => !line.startsWith('etc/deleted'))
      .map((line) => line.replace(/ trusted\.overlay\.opaque=\S+/, ''));
    expect(await describeTree(dest)).toEqual(expected);
  });

  it('writes the merged files of several layers as one tar', async () => {
    const out = join(await makeTempDir(), 'fs.tar');
    await exportLayersToTar(await makeTwoLayers(), out);
    const names = execFileSync('tar', ['-tf', out], { encoding: 'utf8' }).trim().split('\n');
    expect(names).toEqual(['a/', 'a/y', 'c/', 'c/new', 'link']);
  });

  it('copies an already merged directory', async () => {
    const src = await makeTempDir();
    await writeFile(join(src, 'hello'), 'world');
    const dest = join(await makeTempDir(), 'out');
    await exportMergedToDirectory(src, dest);
    expect(await readFile(join(dest, 'hello'), 'utf8')).toBe('world');
  });
});
