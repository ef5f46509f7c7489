import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BLOCK,
  decodeHeader,
  encodeEntryHeader,
  writePlainHeader,
  type TarEntry,
} from './tar-format.ts';
import { compareBytes, walkTreeSync } from './tree-walk.ts';

const file: TarEntry = {
  path: 'app/src/main.txt',
  type: 'file',
  mode: 0o644,
  uid: 0,
  gid: 0,
  size: 1234,
  mtime: 1_700_000_000,
};

describe('writePlainHeader', () => {
  const plain: TarEntry[] = [
    file,
    { ...file, path: 'app', type: 'dir', mode: 0o4755, size: 0 },
    { ...file, type: 'symlink', linkpath: '../lib/x.so', size: 0 },
    { ...file, type: 'link', linkpath: 'app/other', size: 0 },
    { ...file, type: 'char', devmajor: 1, devminor: 3, size: 0, uid: 65534, gid: 0o7777777 },
    // A device number past octal's 7 digits is written base-256, still in one block.
    { ...file, type: 'block', devmajor: 0o10000000, devminor: 259, size: 0 },
    { ...file, path: 'x'.repeat(100), size: 0o77777777777, mtime: 0 },
  ];

  it.each(plain)('writes the same block as encodeEntryHeader ($type $path)', (entry) => {
    const target = Buffer.alloc(BLOCK * 3, 0xaa);
    expect(writePlainHeader(entry, target, BLOCK)).toBe(true);
    expect(target.subarray(BLOCK, 2 * BLOCK).equals(encodeEntryHeader(entry))).toBe(true);
    // Nothing outside its block is touched.
    expect(target.subarray(0, BLOCK).every((b) => b === 0xaa)).toBe(true);
    expect(target.subarray(2 * BLOCK).every((b) => b === 0xaa)).toBe(true);
    expect(decodeHeader(target.subarray(BLOCK, 2 * BLOCK))?.size).toBe(entry.size);
  });

  const needPax: TarEntry[] = [
    { ...file, path: 'x'.repeat(101) },
    { ...file, path: 'café.txt' },
    { ...file, type: 'symlink', linkpath: 'y'.repeat(101), size: 0 },
    { ...file, size: 0o77777777777 + 1 },
    { ...file, uid: 0o7777777 + 1 },
    { ...file, mtime: -1 },
    { ...file, xattrs: new Map([['security.capability', Buffer.from([1, 2])]]) },
  ];

  it.each(needPax)('leaves an entry that needs PAX records to encodeEntryHeader', (entry) => {
    const target = Buffer.alloc(BLOCK, 0xaa);
    expect(writePlainHeader(entry, target, 0)).toBe(false);
    expect(target.every((b) => b === 0xaa)).toBe(true);
    expect(encodeEntryHeader(entry).length).toBeGreaterThan(BLOCK);
  });
});

describe('walkTreeSync', () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('orders names by their UTF-8 bytes, also past the Basic Multilingual Plane', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tbuild-walk-'));
    // In UTF-16 code units U+1F600 (0xD83D 0xDE00) sorts before U+FF5E; in UTF-8 bytes
    // (F0 9F… against EF BD…) after it.
    const names = ['b', 'A', 'a', '\u{1F600}', '\uFF5E', 'é', '_'];
    for (const name of names) writeFileSync(path.join(dir, name), '');
    const walked = [...walkTreeSync(dir)].map((e) => e.rel);
    expect(walked).toEqual([...names].sort(compareBytes));
    expect(walked.indexOf('\uFF5E')).toBeLessThan(walked.indexOf('\u{1F600}'));
  });

  it('uses the plain order when no name needs the byte comparison', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tbuild-walk-'));
    const names = ['b', 'A', 'a', 'é', '_', 'Z9', 'z10'];
    for (const name of names) writeFileSync(path.join(dir, name), '');
    expect([...walkTreeSync(dir)].map((e) => e.rel)).toEqual([...names].sort(compareBytes));
  });
});
