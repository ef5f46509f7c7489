import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { settle, writeTree } from '../../../test/helpers/file-tree.ts';
import { parseDockerignore } from '../../shared/dockerignore.ts';
import { CancelledError } from '../../shared/errors.ts';
import { checksumPaths, ContextNotFoundError, scanContext, StatCache } from './index.ts';
import { checksumWithRecords, diffRecords } from './checksum.ts';
import type { ContextSnapshot } from './index.ts';

let dir: string;

const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

function sums(snapshot: ContextSnapshot, selectors: string[]): Record<string, string> {
  return Object.fromEntries(selectors.map((s) => [s, checksumPaths(snapshot, [s])]));
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tbuild-ctx-'));
  await writeTree(dir, {
    'a.txt': 'alpha',
    'src/x.ts': 'export const x = 1;',
    'src/y.ts': 'export const y = 2;',
    'src/lib/z.js': 'z',
    'other/o.txt': 'o',
    'node_modules/pkg/index.js': 'ignored',
    'debug.log': 'ignored too',
  });
  await symlink('a.txt', join(dir, 'link'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ignore = parseDockerignore('node_modules\n*.log\n');
const selectors = ['a.txt', 'src', 'src/*.ts', '.', 'other', 'link'];

describe('scanContext', () => {
  it('hashes many files in worker threads to the same digests as reading them here', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 300; i++) files[`many/d${i % 7}/f${i}`] = `content ${i} `.repeat(i * 13);
    files['many/big'] = 'b'.repeat(3 * 1024 * 1024 + 5); // several read buffers
    await writeTree(dir, files);
    const snap = await scanContext(dir, ignore, StatCache.inMemory());
    expect(snap.stats.hashed).toBeGreaterThan(64); // more than the in-process limit
    for (const [path, content] of Object.entries(files))
      expect(snap.files.get(path)?.digest, path).toBe(sha(content));
    expect(snap.files.get('a.txt')?.digest).toBe(sha('alpha'));
  });

  it('records files with content digests, directories and symlinks, without ignored paths', async () => {
    const snap = await scanContext(dir, ignore, StatCache.inMemory());
    expect([...snap.files.keys()].sort()).toEqual(
      [
        'a.txt',
        'link',
        'other',
        'other/o.txt',
        'src',
        'src/lib',
        'src/lib/z.js',
        'src/x.ts',
        'src/y.ts',
      ].sort(),
    );
    expect(snap.files.get('a.txt')).toMatchObject({ type: 'file', size: 5, digest: sha('alpha') });
    expect(snap.files.get('src')).toMatchObject({ type: 'dir', size: 0 });
    const link = snap.files.get('link')!;
    expect(link).toMatchObject({ type: 'symlink', linkTarget: 'a.txt' });
    expect(link.digest).toBeUndefined();
  });

  it('reads no file content on a second scan with the same stat cache', async () => {
    await settle();
    const cache = StatCache.inMemory();
    const first = await scanContext(dir, ignore, cache);
    expect(first.stats.hashed).toBe(5);
    const second = await scanContext(dir, ignore, cache);
    expect(second.stats).toMatchObject({ hashed: 0, reused: 5 });
    expect(sums(second, selectors)).toEqual(sums(first, selectors));
  });

  it('re-includes an exception inside an excluded directory, with that directory', async () => {
    await writeTree(dir, { 'node_modules/keep/k.js': 'k' });
    const snap = await scanContext(
      dir,
      parseDockerignore('node_modules\n!node_modules/keep'),
      StatCache.inMemory(),
    );
    expect(snap.files.has('node_modules')).toBe(true);
    expect(snap.files.has('node_modules/keep/k.js')).toBe(true);
    expect(snap.files.has('node_modules/pkg/index.js')).toBe(false);
  });

  it('fails with a typed error for a missing context and when cancelled', async () => {
    await expect(scanContext(join(dir, 'nope'), [], StatCache.inMemory())).rejects.toThrow(
      ContextNotFoundError,
    );
    const controller = new AbortController();
    controller.abort();
    await expect(
      scanContext(dir, [], StatCache.inMemory(), { signal: controller.signal }),
    ).rejects.toThrow(CancelledError);
  });
});

describe('checksumPaths', () => {
  it('changes only the checksums of selectors covering a changed file', async () => {
    const cache = StatCache.inMemory();
    const before = sums(await scanContext(dir, ignore, cache), selectors);
    await writeFile(join(dir, 'src/x.ts'), 'export const x = 42;');
    const after = sums(await scanContext(dir, ignore, cache), selectors);
    for (const s of ['src', 'src/*.ts', '.']) expect(after[s], s).not.toBe(before[s]);
    for (const s of ['a.txt', 'other', 'link']) expect(after[s], s).toBe(before[s]);
  });

  it('keeps every checksum when only the mtime changes', async () => {
    const cache = StatCache.inMemory();
    const before = sums(await scanContext(dir, ignore, cache), selectors);
    const old = new Date('2001-02-03T04:05:06Z');
    await utimes(join(dir, 'src/x.ts'), old, old);
    await utimes(join(dir, 'a.txt'), old, old);
    expect(sums(await scanContext(dir, ignore, cache), selectors)).toEqual(before);
  });

  it('changes the checksum when a file mode changes', async () => {
    const before = sums(await scanContext(dir, ignore, StatCache.inMemory()), selectors);
    await chmod(join(dir, 'a.txt'), 0o755);
    const after = sums(await scanContext(dir, ignore, StatCache.inMemory()), selectors);
    expect(after['a.txt']).not.toBe(before['a.txt']);
    expect(after['.']).not.toBe(before['.']);
    expect(after['src']).toBe(before['src']);
  });

  it('ignores changes to dockerignored files', async () => {
    const before = sums(await scanContext(dir, ignore, StatCache.inMemory()), selectors);
    await writeTree(dir, { 'debug.log': 'more', 'node_modules/new.js': 'new' });
    expect(sums(await scanContext(dir, ignore, StatCache.inMemory()), selectors)).toEqual(before);
  });

  it('records a symlink as a link: its target file may change, its target path may not', async () => {
    const before = sums(await scanContext(dir, ignore, StatCache.inMemory()), ['link']);
    await writeFile(join(dir, 'a.txt'), 'changed');
    expect(sums(await scanContext(dir, ignore, StatCache.inMemory()), ['link'])).toEqual(before);
    await rm(join(dir, 'link'));
    await symlink('other/o.txt', join(dir, 'link'));
    expect(sums(await scanContext(dir, ignore, StatCache.inMemory()), ['link'])).not.toEqual(
      before,
    );
  });

  it('gives a stable "missing" digest for a path that does not exist', async () => {
    const snap = await scanContext(dir, ignore, StatCache.inMemory());
    const missing = checksumPaths(snap, ['does/not/exist']);
    expect(checksumPaths(snap, ['other/missing'])).toBe(missing);
    expect(checksumPaths(snap, ['debug.log'])).toBe(missing);
    expect(checksumPaths(snap, ['a.txt'])).not.toBe(missing);
  });

  it('treats "/" and "." alike and a directory like its contents', async () => {
    const snap = await scanContext(dir, ignore, StatCache.inMemory());
    expect(checksumPaths(snap, ['/'])).toBe(checksumPaths(snap, ['.']));
    expect(checksumPaths(snap, ['./src/'])).toBe(checksumPaths(snap, ['src']));
    await writeTree(dir, { 'copy/x.ts': 'export const x = 1;' });
    const again = await scanContext(dir, ignore, StatCache.inMemory());
    expect(checksumPaths(again, ['copy/x.ts'])).toBe(checksumPaths(again, ['src/x.ts']));
  });
});

describe('StatCache', () => {
  it('persists digests across processes and does not rewrite its file on a no-op run', async () => {
    await settle();
    const file = join(dir, '..', `${dir.split('/').pop()}-cache`, 'stat-cache');
    const cache = await StatCache.open(file);
    await scanContext(dir, ignore, cache);
    await cache.save();
    const written = await stat(file);

    const reopened = await StatCache.open(file);
    const snap = await scanContext(dir, ignore, reopened);
    expect(snap.stats.hashed).toBe(0);
    await reopened.save();
    expect((await stat(file)).mtimeMs).toBe(written.mtimeMs);
    expect((await readFile(file, 'utf8')).split('\n')[0]).toBe('tbuild-statcache 2');
    await rm(dirname(file), { recursive: true, force: true });
  });

  it('forgets deleted files, keeps odd names, and accepts bigint stats as keys', async () => {
    await writeTree(dir, { 'odd\tname.txt': 'tab' });
    await settle();
    const file = join(dir, '..', `${dir.split('/').pop()}-cache2`, 'stat-cache');
    const cache = await StatCache.open(file);
    await scanContext(dir, ignore, cache);
    expect(cache.size).toBe(6);
    await rm(join(dir, 'src/lib/z.js'));
    await scanContext(dir, ignore, cache);
    expect(cache.size).toBe(5);
    await cache.save();

    const reopened = await StatCache.open(file);
    expect(reopened.size).toBe(5);
    expect((await scanContext(dir, ignore, reopened)).stats.hashed).toBe(0);
    const big = await stat(join(dir, 'a.txt'), { bigint: true });
    expect(reopened.lookup(join(dir, 'a.txt'), big)).toBe(sha('alpha'));
    await rm(dirname(file), { recursive: true, force: true });
  });
});

describe('diffRecords', () => {
  it('names a path that appears under a selector that matched nothing, and names sorting before "."', async () => {
    const selectors = ['later.txt', 'src'];
    const before = checksumWithRecords(
      await scanContext(dir, ignore, StatCache.inMemory()),
      selectors,
    );
    await writeFile(join(dir, 'later.txt'), 'now here');
    await writeFile(join(dir, 'src/-dash.ts'), 'sorts before "."');
    const after = checksumWithRecords(
      await scanContext(dir, ignore, StatCache.inMemory()),
      selectors,
    );
    const diff = diffRecords(selectors, before.records, after.records);
    expect(diff.added.sort()).toEqual(['later.txt', 'src/-dash.ts']);
    expect(diff.removed).toEqual([]);
    expect(diff.modified).toEqual([]);
  });

  it('names context paths that were added, removed or changed between two checksums', async () => {
    const selectors = ['a.txt', 'src', 'src/*.ts', '.'];
    const before = checksumWithRecords(
      await scanContext(dir, ignore, StatCache.inMemory()),
      selectors,
    );
    await writeFile(join(dir, 'src/x.ts'), 'export const x = 10;');
    await writeFile(join(dir, 'src/new.ts'), 'new');
    await rm(join(dir, 'src/lib/z.js'));
    await chmod(join(dir, 'a.txt'), 0o600);
    const after = checksumWithRecords(
      await scanContext(dir, ignore, StatCache.inMemory()),
      selectors,
    );
    expect(after.digest).not.toBe(before.digest);
    const diff = diffRecords(selectors, before.records, after.records);
    expect(diff.added.sort()).toEqual(['src/new.ts']);
    expect(diff.removed.sort()).toEqual(['src/lib/z.js']);
    // src (the directory) changed too: its entries' mtimes are not recorded, but a new file is.
    expect(diff.modified.sort()).toEqual(['a.txt', 'src/x.ts']);
  });

  it('gives the same digest as checksumPaths, from the text it keeps', async () => {
    const snap = await scanContext(dir, ignore, StatCache.inMemory());
    const { digest, records } = checksumWithRecords(snap, ['src', 'a.txt']);
    expect(digest).toBe(checksumPaths(snap, ['src', 'a.txt']));
    expect(digest).toBe(sha(records));
  });
});
