/**
 * A build without -t keeps its image as docker does (`<none>`), so the ID that
 * `build -q` prints can be inspected, tagged and removed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { build, makeContext, useBuildStore } from '../helpers/build-harness.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';

const dirs = useBuildStore();
const tbuild = (...args: string[]) => runTbuild([...args, '--root', dirs.store]);

describe('an untagged build', () => {
  it('is listed as <none>, found by ID, and named by tag', async () => {
    const ctx = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox:latest\nRUN echo untagged > /mark\n',
    });
    const run = await build(dirs.store, ctx, ['-q']);
    expect(run.code, run.stderr).toBe(0);
    const id = run.stdout.trim();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    const short = id.slice(7, 19);

    const listed = (await tbuild('images')).stdout.split('\n');
    expect(listed.find((line) => line.includes(short))).toMatch(/^<none>\s+<none>\s+/);
    const inspected = await tbuild('inspect', short);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(JSON.parse(inspected.stdout)[0]).toMatchObject({ Id: id, RepoTags: [] });

    // Saved by ID, the archive names no image; loaded elsewhere, it is <none> there too.
    const archive = path.join(dirs.scratch, 'untagged.tar');
    expect((await tbuild('save', short, '-o', archive)).code).toBe(0);
    const other = mkdtempSync(path.join(os.tmpdir(), 'tbuild-store-'));
    try {
      const loaded = await runTbuild(['load', '-i', archive, '--root', other]);
      expect(loaded.stdout).toContain(`Loaded image ID: ${id}`);
      const there = (await runTbuild(['images', '--root', other])).stdout;
      expect(there).toMatch(new RegExp(`^<none>\\s+<none>\\s+${short}`, 'm'));
    } finally {
      rmSync(other, { recursive: true, force: true });
    }

    expect((await tbuild('tag', short, 'untagged:now')).code).toBe(0);
    const after = (await tbuild('images')).stdout.split('\n');
    expect(after.filter((line) => line.includes(short))).toEqual([
      expect.stringMatching(/^untagged\s+now\s+/),
    ]);
    expect((await tbuild('rm', 'untagged:now')).code).toBe(0);
  });
});
