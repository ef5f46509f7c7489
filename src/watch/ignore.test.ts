import { describe, expect, it, vi } from 'vitest';
import { createBatcher, type ChangeBatch } from './batch.ts';
import { createWatchFilter, isEditorTempFile } from './ignore.ts';

describe('what a watch ignores', () => {
  const filter = createWatchFilter({
    roots: [
      { dir: '/ctx', patterns: ['*.log', 'build', '!build/keep', 'node_modules'] },
      { dir: '/lib', patterns: [] },
    ],
    always: ['/ctx/Dockerfile', '/ctx/.dockerignore', '/elsewhere/Dockerfile'],
    outputs: ['/ctx/out', '/ctx/app.iid'],
  });

  it('skips what .dockerignore excludes, but not a directory an exception reaches into', () => {
    expect(filter('/ctx/debug.log', false)).toBe(true);
    expect(filter('/ctx/node_modules', true)).toBe(true);
    expect(filter('/ctx/node_modules/x/index.js', false)).toBe(true);
    expect(filter('/ctx/build', true)).toBe(false);
    expect(filter('/ctx/build/keep', false)).toBe(false);
    expect(filter('/ctx/build/other', false)).toBe(true);
    expect(filter('/ctx/src/app.ts', false)).toBe(false);
  });

  it('skips VCS data, editor temp files and the build outputs, never the Dockerfile', () => {
    expect(filter('/ctx/.git', true)).toBe(true);
    expect(filter('/ctx/.git/index', false)).toBe(true);
    expect(filter('/lib/.hg/store', false)).toBe(true);
    expect(filter('/ctx/out/app/file', false)).toBe(true);
    expect(filter('/ctx/app.iid', false)).toBe(true);
    expect(filter('/ctx/app.iid.tbuild-1a2b3c4d', false)).toBe(true);
    expect(filter('/ctx/app.iid.txt', false)).toBe(false);
    expect(filter('/ctx/src/.app.ts.swp', false)).toBe(true);
    expect(filter('/ctx/Dockerfile', false)).toBe(false);
    expect(filter('/elsewhere/Dockerfile', false)).toBe(false);
  });

  it('knows the temp files of vim, emacs and JetBrains IDEs', () => {
    for (const name of [
      '.a.swp',
      '.a.swx',
      '4913',
      'a.txt~',
      '.#a.txt',
      '#a.txt#',
      'a___jb_tmp___',
    ])
      expect(isEditorTempFile(name), name).toBe(true);
    for (const name of ['swap.ts', 'a.txt', '4914', 'app#1'])
      expect(isEditorTempFile(name), name).toBe(false);
  });
});

describe('change batches', () => {
  it('hand over one batch after the quiet time, each path once, with the first change time', () => {
    vi.useFakeTimers();
    try {
      const batches: ChangeBatch[] = [];
      let now = 1000;
      const b = createBatcher(100, (batch) => batches.push(batch), { now: () => now });
      b.add('/a');
      vi.advanceTimersByTime(60);
      now = 1060;
      b.add('/b');
      b.add('/a');
      vi.advanceTimersByTime(99);
      expect(batches).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(batches).toEqual([{ paths: ['/a', '/b'], firstChangeAt: 1000, leading: false }]);
      b.add('/c');
      b.flush();
      expect(batches.at(-1)?.paths).toEqual(['/c']);
      b.add('/d');
      b.close();
      vi.advanceTimersByTime(500);
      expect(batches).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });
  it('hand over a change after a quiet time at once, and gather the changes that follow it', () => {
    vi.useFakeTimers();
    try {
      const batches: ChangeBatch[] = [];
      let now = 5000;
      const b = createBatcher(100, (batch) => batches.push(batch), {
        leading: true,
        now: () => now,
      });
      b.add('/a');
      expect(batches).toEqual([{ paths: ['/a'], firstChangeAt: 5000, leading: true }]);
      expect(b.gathering()).toBe(false);
      now = 5030; // within the debounce time of the last change: gathered
      b.add('/b');
      now = 5090;
      b.add('/c');
      expect(b.gathering()).toBe(true);
      vi.advanceTimersByTime(100);
      expect(batches.at(-1)).toEqual({ paths: ['/b', '/c'], firstChangeAt: 5030, leading: false });
      expect(b.gathering()).toBe(false);
      now = 5150; // 60 ms after the last change: not quiet yet
      b.add('/d');
      expect(batches).toHaveLength(2);
      vi.advanceTimersByTime(100);
      now = 5400; // quiet again
      b.add('/e');
      expect(batches.map((x) => [x.paths, x.leading])).toEqual([
        [['/a'], true],
        [['/b', '/c'], false],
        [['/d'], false],
        [['/e'], true],
      ]);
    } finally {
      vi.useRealTimers();
    }
  });
});
