import { execFileSync } from 'node:child_process';
import { lstatSync, readdirSync, realpathSync } from 'node:fs';
import {
  chmod,
  mkdir,
  mkdtemp,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { settle, writeTree } from '../../../test/helpers/file-tree.ts';
import { createIgnoreMatcher, parseDockerignore } from '../../shared/dockerignore.ts';
import {
  checksumPaths,
  listingReader,
  openContextCache,
  scanContext,
  startListing,
  StatCache,
} from './index.ts';
import type { ContextSnapshot, Listing } from './index.ts';
import { pruneExpression } from './listing.ts';

let dir: string;
let state: string;

/** Records without the Map, for toEqual. */
const recordsOf = (s: ContextSnapshot) => [...s.files.values()];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tbuild-listing-'));
  state = await mkdtemp(join(tmpdir(), 'tbuild-listing-state-'));
  await writeTree(dir, {
    'a.txt': 'alpha',
    'src/x.ts': 'export const x = 1;',
    'src/lib/z.js': 'z',
    'src/B.ts': 'upper case sorts first',
    'caf\u00e9/cr\u00e8me.txt': 'unicode',
    'with space/tab\there': 'tab',
    'new\nline': 'newline in a name',
    'node_modules/pkg/index.js': 'pruned',
    'node_modules/keep/k.js': 'kept by an exception',
    'deep/build/out.o': 'pruned by **/build',
    'gen/cache/c': 'pruned by a literal path',
    'debug.log': 'ignored',
  });
  await mkdir(join(dir, 'empty'));
  await symlink('a.txt', join(dir, 'link'));
  await symlink('/nowhere/at/all', join(dir, 'dangling'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  await chmod(join(dir, 'a.txt'), 0o4755);
  await settle();
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(state, { recursive: true, force: true });
});

const PATTERN_SETS = [
  [],
  parseDockerignore('node_modules\n**/build\ngen/cache\n*.log\n'),
  parseDockerignore('node_modules\n!node_modules/keep\n*.log\n'),
  parseDockerignore('*\n!src\n'),
  // Exceptions that reach nowhere near the pruned directories.
  parseDockerignore('node_modules\ngen/cache\n*.txt\n!a.txt\n'),
];

async function listed(patterns: readonly string[]): Promise<Buffer> {
  const output = await startListing(dir, patterns).output;
  expect(output).toBeInstanceOf(Buffer);
  return output!;
}

describe('listing with find', () => {
  it.each(PATTERN_SETS.map((p) => [p.join(' ') || '(no patterns)', p]))(
    'gives the same snapshot as reading the disk: %s',
    async (_name, patterns) => {
      const fromDisk = await scanContext(dir, patterns, StatCache.inMemory());
      const reader = listingReader(await listed(patterns));
      const fromListing = await scanContext(dir, patterns, StatCache.inMemory(), { reader });
      expect(recordsOf(fromListing)).toEqual(recordsOf(fromDisk));
      expect([...fromListing.files.keys()]).toEqual([...fromDisk.files.keys()]);
      expect(fromListing.excluded).toEqual(fromDisk.excluded);
    },
  );

  it.each([
    [PATTERN_SETS[0]!, []],
    [PATTERN_SETS[1]!, ['debug.log', 'deep/build', 'gen/cache', 'node_modules']],
    [PATTERN_SETS[2]!, ['debug.log', 'node_modules/pkg']],
  ])('names the top-most excluded entries: %j', async (patterns, excluded) => {
    const snapshot = await scanContext(dir, patterns, StatCache.inMemory());
    expect([...snapshot.excluded].sort()).toEqual(excluded);
  });

  it('excludes a held directory as a whole when nothing in it is re-included', async () => {
    const patterns = parseDockerignore('*\n!src\nnode_modules\n!node_modules/nothing-here\n');
    const snapshot = await scanContext(dir, patterns, StatCache.inMemory());
    expect(snapshot.excluded).toContain('node_modules');
    expect(snapshot.excluded.filter((p) => p.startsWith('node_modules/'))).toEqual([]);
    expect(snapshot.excluded).not.toContain('src');
    expect(snapshot.excluded).toContain('a.txt');
  });

  it('reads the same stat fields as lstat, so both feed one stat cache', async () => {
    const reader = listingReader(await listed([]));
    for (const rel of [
      'a.txt',
      'src',
      'src/lib/z.js',
      'link',
      'fifo',
      'caf\u00e9/cr\u00e8me.txt',
    ]) {
      const s = lstatSync(join(dir, rel));
      expect(reader.lstat('', rel)).toEqual({
        mode: s.mode,
        uid: s.uid,
        gid: s.gid,
        size: s.size,
        dev: s.dev,
        ino: s.ino,
        mtimeMs: s.mtimeMs,
        ctimeMs: s.ctimeMs,
        link: s.isSymbolicLink() ? 'a.txt' : '',
      });
    }
  });

  it('prunes only directories the walk would never enter', async () => {
    const patterns = parseDockerignore('node_modules\n**/build\ngen/cache\n*.log\nsrc/*.ts\n');
    expect(pruneExpression(patterns)).toEqual([
      '-path',
      './node_modules',
      '-o',
      '-name',
      'build',
      '-o',
      '-path',
      './gen/cache',
    ]);
    const matcher = createIgnoreMatcher(patterns);
    for (const pruned of ['node_modules', 'build', 'deep/build', 'gen/cache']) {
      expect(matcher.ignores(pruned)).toBe(true);
      expect(matcher.mayContainIncluded(pruned)).toBe(false);
    }
    // Not pruned: names with glob or quoting characters, and anything when there is an exception.
    expect(pruneExpression(['a*', 'b/**', '**/c?', 'd\\e', '.', 'x/../y'])).toEqual([]);
    // With exceptions, only what the matcher says the walk skips.
    expect(pruneExpression(['node_modules', '!keep'])).toEqual(['-path', './node_modules']);
    expect(pruneExpression(['node_modules', '!node_modules/keep'])).toEqual([]);
    expect(pruneExpression(['node_modules', '!node_modules'])).toEqual([]);
    expect(pruneExpression(['**/build', 'gen', '!x'])).toEqual(['-path', './gen']);
    const text = (await listed(patterns)).toString();
    expect(text).toContain('\0node_modules\0');
    expect(text).not.toContain('node_modules/pkg');
    expect(text).not.toContain('deep/build/out.o');
  });

  it('is unavailable, not an error, for a missing root or without find', async () => {
    expect(await startListing(join(dir, 'missing'), []).output).toBeUndefined();
    const path = process.env.PATH;
    process.env.PATH = join(dir, 'no-bin');
    try {
      expect(await startListing(dir, []).output).toBeUndefined();
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('remembered checksums', () => {
  const patterns = parseDockerignore('node_modules\n*.log\n');
  const selectors = ['.'];

  async function checksum(sel: readonly string[] = selectors): Promise<string> {
    const contexts = openContextCache(state);
    const digest = await contexts.local(dir, patterns).checksum(sel);
    await contexts.flush();
    return digest;
  }

  const truth = async (sel: readonly string[] = selectors) =>
    checksumPaths(await scanContext(dir, patterns, StatCache.inMemory()), sel);

  /** Replace the remembered digests with a marker, so that a hit is visible. */
  async function plantMarker(): Promise<string> {
    const [file] = readdirSync(state).filter((f) => f.startsWith('checksums-'));
    const path = join(state, file!);
    const [version, key] = (await readFile(path, 'utf8')).split('\n');
    const marker = `sha256:${'0'.repeat(64)}`;
    await writeFile(path, `${version}\n${key}\n${JSON.stringify({ '["."]': marker })}\n`);
    return marker;
  }

  it('are reused while the listing is the same, and only then', async () => {
    expect(await checksum()).toBe(await truth());
    const marker = await plantMarker();
    expect(await checksum()).toBe(marker);
    // Changes the scan ignores leave the listing the same or do not matter to it.
    await writeFile(join(dir, 'node_modules/pkg/index.js'), 'changed, but pruned');
    expect(await checksum()).toBe(marker);
    // The same size and mtime, new content: ctime moves, so the listing differs.
    const before = await stat(join(dir, 'src/x.ts'));
    await writeFile(join(dir, 'src/x.ts'), 'export const x = 9;');
    await utimes(join(dir, 'src/x.ts'), before.atime, before.mtime);
    expect(await checksum()).toBe(await truth());
  });

  it.each([
    ['a mode change', () => chmod(join(dir, 'src/lib/z.js'), 0o600)],
    ['a rename', () => rename(join(dir, 'src/x.ts'), join(dir, 'src/w.ts'))],
    ['a new empty directory', () => mkdir(join(dir, 'src/new'))],
    ['a removal', () => rm(join(dir, 'src/lib'), { recursive: true })],
    [
      'a new symlink target',
      async () => {
        await rm(join(dir, 'link'));
        await symlink('src', join(dir, 'link'));
      },
    ],
  ])('are not reused after %s', async (_what, change) => {
    await checksum();
    const marker = await plantMarker();
    await change();
    await settle();
    const digest = await checksum();
    expect(digest).not.toBe(marker);
    expect(digest).toBe(await truth());
  });

  it('are kept per selector list and per .dockerignore', async () => {
    const src = await checksum(['src']);
    expect(src).toBe(await truth(['src']));
    expect(await checksum()).toBe(await truth());
    const contexts = openContextCache(state);
    const all = await contexts.local(dir, []).checksum(['.']);
    expect(all).toBe(checksumPaths(await scanContext(dir, [], StatCache.inMemory()), ['.']));
    expect(all).not.toBe(await truth());
  });

  it('are not remembered while a file is too new to trust its timestamps', async () => {
    await writeFile(join(dir, 'fresh.txt'), 'just written');
    // The read happens right after the write, whatever the machine's load: the clock the
    // scan reads says so.
    const written = lstatSync(join(dir, 'fresh.txt')).ctimeMs;
    const clock = vi.spyOn(Date, 'now').mockReturnValue(Math.floor(written) + 1);
    try {
      expect(await checksum()).toBe(await truth());
    } finally {
      clock.mockRestore();
    }
    expect(readdirSync(state).filter((f) => f.startsWith('checksums-'))).toEqual([]);
  });

  it('fall back to reading the disk when there is no listing', async () => {
    const none: Listing = {
      root: realpathSync(dir),
      patterns,
      output: Promise.resolve(undefined),
      cancel() {},
    };
    const contexts = openContextCache(state);
    const context = contexts.local(dir, patterns, none);
    expect(await context.checksum(selectors)).toBe(await truth());
    expect((await context.snapshot()).files.has('src/x.ts')).toBe(true);
  });
});
