import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { settle, writeTree } from '../../../test/helpers/file-tree.ts';
import { checksumPaths, openContextCache, scanContext, StatCache } from './index.ts';
import type { ContextCache } from './index.ts';

let dir: string;
let state: string;
let contexts: ContextCache;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tbuild-tree-'));
  state = await mkdtemp(join(tmpdir(), 'tbuild-tree-state-'));
  await writeTree(dir, {
    'a.txt': 'a',
    'src/x.ts': 'x',
    'src/deep/y.ts': 'y',
    'old/z.txt': 'z',
    'ignored/big.bin': 'nope',
  });
  await symlink('a.txt', join(dir, 'link'));
  await settle();
  contexts = openContextCache(state);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(state, { recursive: true, force: true });
});

const patterns = ['ignored'];
/** The truth: a fresh scan of the disk. */
const truth = async () =>
  checksumPaths(await scanContext(dir, patterns, StatCache.inMemory()), ['.']);
const remembered = () => contexts.local(dir, patterns, { remembered: true }).checksum(['.']);

describe('scanning from a remembered tree', () => {
  it('matches a full scan after files are changed, added, removed and renamed', async () => {
    expect(await contexts.local(dir, patterns).checksum(['.'])).toBe(await truth());
    await writeFile(join(dir, 'src/x.ts'), 'x changed');
    await writeFile(join(dir, 'src/deep/new.ts'), 'new');
    await rm(join(dir, 'a.txt'));
    await rename(join(dir, 'old'), join(dir, 'renamed'));
    await rm(join(dir, 'link'));
    await symlink('src', join(dir, 'link'));
    await settle();
    contexts.noteChanges(
      ['src/x.ts', 'src/deep/new.ts', 'a.txt', 'old', 'renamed', 'link'].map((p) => join(dir, p)),
    );
    expect(await remembered()).toBe(await truth());
  });

  it('re-reads everything below a directory that changed', async () => {
    await contexts.local(dir, patterns).checksum(['.']);
    await rm(join(dir, 'src'), { recursive: true });
    await mkdir(join(dir, 'src/other'), { recursive: true });
    await writeFile(join(dir, 'src/other/w.ts'), 'w');
    await settle();
    contexts.noteChanges([join(dir, 'src')]);
    expect(await remembered()).toBe(await truth());
  });

  it('trusts the watcher for what it did not report, and keeps its reports until a scan', async () => {
    await contexts.local(dir, patterns).checksum(['.']);
    const before = await truth();
    await writeFile(join(dir, 'src/x.ts'), 'unreported');
    await settle();
    // Nothing reported: the remembered tree still has the old stat, so the old digest.
    expect(await remembered()).toBe(before);
    // Reported twice over two builds whose first never scanned: still read again.
    contexts.noteChanges([join(dir, 'src/x.ts')]);
    contexts.noteChanges([join(dir, 'a.txt')]);
    expect(await remembered()).toBe(await truth());
  });

  it('lists the context as usual when nothing was remembered yet', async () => {
    contexts.noteChanges([join(dir, 'a.txt')]);
    expect(await remembered()).toBe(await truth());
  });
});
