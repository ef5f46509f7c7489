import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runtimeStateDir } from './runtime-dir.ts';

describe('runtimeStateDir', () => {
  const made: string[] = [];
  afterAll(async () => {
    for (const dir of made) await rm(dir, { recursive: true, force: true });
  });

  it('is under XDG_RUNTIME_DIR in a rootless build, else in the store', async () => {
    const runtime = await mkdtemp(path.join(os.tmpdir(), 'tbuild-runtime-'));
    made.push(runtime);
    const rootless = { TBUILD_ROOTLESS: '1', XDG_RUNTIME_DIR: runtime };
    expect(runtimeStateDir('/store', rootless)).toBe(path.join(runtime, 'tbuild'));
    expect(runtimeStateDir('/store', { TBUILD_ROOTLESS: '1' })).toBe('/store/runc');
    expect(runtimeStateDir('/store', { ...rootless, XDG_RUNTIME_DIR: '/nonexistent' })).toBe(
      '/store/runc',
    );
    expect(runtimeStateDir('/store', { TBUILD_ROOTLESS: '0', XDG_RUNTIME_DIR: runtime })).toBe(
      '/store/runc',
    );
  });
});
