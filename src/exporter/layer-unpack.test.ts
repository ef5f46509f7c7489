import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { PathEscapeError, TarFormatError } from './errors.ts';
import { unpackLayer } from './layer-unpack.ts';
import { encodeEntryHeader, endOfArchive, padding, type TarEntry } from './tar-format.ts';
import { cleanupTempDirs, describeTree, exists, makeTempDir } from './test-helpers.ts';

afterAll(cleanupTempDirs);

type Item = Partial<TarEntry> & { path: string; content?: string };

/** A tar built entry by entry, the way a hostile image author could. */
function buildTar(items: Item[]): Buffer {
  const parts: Buffer[] = [];
  for (const { content, ...rest } of items) {
    const data = Buffer.from(content ?? '');
    const entry: TarEntry = {
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime: 1_700_000_000,
      ...rest,
      size: data.length,
    };
    parts.push(encodeEntryHeader(entry), data, Buffer.alloc(padding(data.length)));
  }
  parts.push(endOfArchive());
  return Buffer.concat(parts);
}

/** A layer dir next to an `outside` dir holding a secret, to prove nothing leaks there. */
async function makeSandbox(): Promise<{ diff: string; outside: string; secret: string }> {
  const root = await makeTempDir();
  const outside = join(root, 'outside');
  await mkdir(outside);
  const secret = join(outside, 'secret');
  await writeFile(secret, 'untouched');
  return { diff: join(root, 'layers', 'diff'), outside, secret };
}

async function expectOutsideUntouched(sandbox: { outside: string; secret: string }): Promise<void> {
  expect(await readdir(sandbox.outside)).toEqual(['secret']);
  expect(await readFile(sandbox.secret, 'utf8')).toBe('untouched');
  expect((await stat(sandbox.secret)).nlink).toBe(1);
  expect(await exists(join(sandbox.outside, '..', 'layers', 'evil'))).toBe(false);
  expect(await exists(join(sandbox.outside, '..', 'evil'))).toBe(false);
}

describe('unpackLayer', () => {
  it('sets owners, modes (set-id bits after chown) and times of every kind of entry', async () => {
    const sandbox = await makeSandbox();
    const tar = buildTar([
      { path: 'bin', type: 'dir', mode: 0o2775, uid: 1000, gid: 1001, mtime: 1_600_000_000 },
      { path: 'bin/su', content: 'root', mode: 0o4755, uid: 0, gid: 0, mtime: 1_600_000_001 },
      { path: 'bin/tool', content: 'tool', mode: 0o2711, uid: 1000, gid: 50, mtime: 1_600_000_002 },
      { path: 'bin/ro', content: 'read-only', mode: 0o444, uid: 7, gid: 7, mtime: 1_600_000_003 },
      { path: 'bin/again', type: 'link', linkpath: 'bin/tool', mode: 0o600, uid: 9, gid: 9 },
      {
        path: 'bin/sh',
        type: 'symlink',
        linkpath: 'tool',
        uid: 1000,
        gid: 1001,
        mtime: 1_600_000_004,
      },
      { path: 'bin/ro', content: 'replaced', mode: 0o640, uid: 3, gid: 4, mtime: 1_600_000_005 },
      { path: 'empty', content: '', mode: 0o600, mtime: 1_600_000_006 },
    ]);
    await unpackLayer(Readable.from([tar]), sandbox.diff, { preserveOwners: true });
    expect(await describeTree(sandbox.diff)).toEqual([
      'bin dir 2775 1000:1001 mtime=1600000000',
      'bin/again file 2711 1000:50 mtime=1600000002 size=4 7c9bbe5ec9b3',
      'bin/ro file 640 3:4 mtime=1600000005 size=8 6c1aa50442a9',
      'bin/sh symlink 777 1000:1001 mtime=1600000004 -> tool',
      'bin/su file 4755 0:0 mtime=1600000001 size=4 4813494d137e',
      'bin/tool file 2711 1000:50 mtime=1600000002 size=4 7c9bbe5ec9b3 hardlink=bin/again',
      'empty file 600 0:0 mtime=1600000006 size=0 e3b0c44298fc',
    ]);
  });
});

describe('unpackLayer on hostile tars', () => {
  const cases: Array<[string, (outside: string) => Item[]]> = [
    ['a "../" path', () => [{ path: '../evil', content: 'x' }]],
    ['a path that climbs out after a directory', () => [{ path: 'a/../../../evil', content: 'x' }]],
    [
      'a write through a symlink to an absolute outside dir',
      (outside) => [
        { path: 'link', type: 'symlink', linkpath: outside },
        { path: 'link/secret', content: 'overwritten' },
      ],
    ],
    [
      'a write through a relative symlink that climbs out',
      () => [
        { path: 'up', type: 'symlink', linkpath: '../../outside' },
        { path: 'up/new-file', content: 'x' },
      ],
    ],
    [
      'a whiteout through a symlink',
      (outside) => [
        { path: 'link', type: 'symlink', linkpath: outside },
        { path: 'link/.wh.secret' },
      ],
    ],
    [
      'a directory through a symlink',
      (outside) => [
        { path: 'link', type: 'symlink', linkpath: outside },
        { path: 'link/sub', type: 'dir', mode: 0o755 },
      ],
    ],
    [
      'a hard link to a file outside',
      () => [{ path: 'h', type: 'link', linkpath: '../../outside/secret' }],
    ],
    [
      'a hard link to an absolute outside path',
      (outside) => [{ path: 'h', type: 'link', linkpath: `${outside}/secret` }],
    ],
    [
      'a hard link through a symlink',
      (outside) => [
        { path: 'link', type: 'symlink', linkpath: outside },
        { path: 'h', type: 'link', linkpath: 'link/secret' },
      ],
    ],
  ];

  for (const [name, items] of cases) {
    it(`refuses ${name} and writes nothing outside the layer`, async () => {
      const sandbox = await makeSandbox();
      const tar = buildTar(items(sandbox.outside));
      await expect(unpackLayer(Readable.from([tar]), sandbox.diff)).rejects.toBeInstanceOf(
        PathEscapeError,
      );
      await expectOutsideUntouched(sandbox);
    });
  }

  it('keeps a symlink that points outside as a link, and replaces it rather than writing through it', async () => {
    const sandbox = await makeSandbox();
    const tar = buildTar([
      { path: 'etc-link', type: 'symlink', linkpath: sandbox.secret },
      { path: 'etc-link', content: 'a regular file now' },
      { path: 'kept-link', type: 'symlink', linkpath: '/etc' },
    ]);
    await unpackLayer(Readable.from([tar]), sandbox.diff);
    expect(await readFile(join(sandbox.diff, 'etc-link'), 'utf8')).toBe('a regular file now');
    expect(await describeTree(sandbox.diff)).toContain(
      'kept-link symlink 777 0:0 mtime=1700000000 -> /etc',
    );
    await expectOutsideUntouched(sandbox);
  });

  it('makes absolute entry names relative to the layer root', async () => {
    const sandbox = await makeSandbox();
    await unpackLayer(
      Readable.from([buildTar([{ path: '/etc/hostname', content: 'box' }])]),
      sandbox.diff,
    );
    expect(await readFile(join(sandbox.diff, 'etc/hostname'), 'utf8')).toBe('box');
  });

  it('turns OCI whiteouts into overlay whiteouts and opaque directories', async () => {
    const sandbox = await makeSandbox();
    const tar = buildTar([
      { path: 'etc', type: 'dir', mode: 0o755 },
      { path: 'etc/.wh.removed' },
      { path: 'var/cache/.wh..wh..opq' },
      { path: '.wh..wh.plnk', type: 'dir', mode: 0o700 },
    ]);
    const gz = zlib.gzipSync(tar);
    await unpackLayer(Readable.from([gz]), sandbox.diff);
    const tree = await describeTree(sandbox.diff);
    expect(tree).toContain('etc/removed char 0 0:0 0:0');
    expect(tree.find((l) => l.startsWith('var/cache dir'))).toContain(
      'trusted.overlay.opaque=eQ==',
    );
    expect(tree.some((l) => l.includes('.wh.'))).toBe(false);
  });

  it('refuses a later entry under a path that an earlier entry made a symlink, even for a directory it made', async () => {
    const sandbox = await makeSandbox();
    const tar = buildTar([
      { path: 'dir', type: 'dir', mode: 0o755 },
      { path: 'dir/file', content: 'inside' },
      { path: 'dir', type: 'symlink', linkpath: sandbox.outside },
      { path: 'dir/secret', content: 'overwritten' },
    ]);
    await expect(unpackLayer(Readable.from([tar]), sandbox.diff)).rejects.toBeInstanceOf(
      PathEscapeError,
    );
    await expectOutsideUntouched(sandbox);
  });

  it('rejects a corrupt tar with a typed error', async () => {
    const sandbox = await makeSandbox();
    const tar = buildTar([{ path: 'file', content: 'x' }]);
    tar[0] = 0x41; // breaks the header checksum
    await expect(unpackLayer(Readable.from([tar]), sandbox.diff)).rejects.toBeInstanceOf(
      TarFormatError,
    );
  });
});
