import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cloneLayer, seedFromPrevious, type IncrementalPlan } from './incremental.ts';

let dir: string;
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function layout(): Promise<{ previous: string; upper: string; temp: string }> {
  dir = await mkdtemp(join(tmpdir(), 'tbuild-seed-'));
  const previous = join(dir, 'previous');
  await mkdir(join(previous, 'src'), { recursive: true });
  await writeFile(join(previous, 'src/kept'), 'kept');
  await writeFile(join(previous, 'src/redone'), 'old');
  const upper = join(dir, 'upper');
  await mkdir(upper);
  const temp = join(dir, 'temp');
  await mkdir(temp);
  return { previous, upper, temp };
}

const plan: IncrementalPlan = { visit: new Set(), drop: ['redone'], destRel: 'src', times: [] };

describe('seedFromPrevious', () => {
  it('moves the early clone into the new layer, shares inodes, and drops what is redone', async () => {
    const { previous, upper, temp } = await layout();
    await seedFromPrevious(cloneLayer(previous, temp), previous, upper, plan);
    expect(await readdir(join(upper, 'src'))).toEqual(['kept']);
    expect((await stat(join(upper, 'src/kept'))).ino).toBe(
      (await stat(join(previous, 'src/kept'))).ino,
    );
    expect(existsSync(temp)).toBe(false); // the clone was moved, its temp dir removed
  });

  it('links the previous layer in itself when the early clone failed', async () => {
    const { previous, upper } = await layout();
    const failed = Promise.reject(new Error('clone failed'));
    await seedFromPrevious(failed, previous, upper, plan);
    expect(await readdir(join(upper, 'src'))).toEqual(['kept']);
    expect((await stat(join(upper, 'src/kept'))).nlink).toBe(2);
  });
});
