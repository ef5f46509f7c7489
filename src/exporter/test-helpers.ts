/** Helpers for the exporter's tests: fixture trees with every kind of entry, and tree listings. */
import { createHash } from 'node:crypto';
import {
  chmod,
  chown,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  rm,
  symlink,
  utimes,
  writeFile,
  lutimes,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeNode, makeWhiteouts } from './special-files.ts';
import { splitDevice } from './tools.ts';
import { walkTree } from './tree-walk.ts';
import { readXattrs, writeXattrs } from './xattrs.ts';

/** A fresh temp directory; `cleanup` removes every one made. */
const made: string[] = [];
export async function makeTempDir(prefix = 'tbuild-exporter-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
export async function cleanupTempDirs(): Promise<void> {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
}

export const CAP_NET_RAW = Buffer.from('AQAAAgAgAAAAAAAAAAAAAAAAAAA=', 'base64');

/**
 * A layer directory in overlay form with one of everything: files, a setuid binary with a
 * file capability, a sticky dir, a hard link pair, symlinks, a FIFO, a device, a whiteout,
 * an opaque directory, a long name and a non-ASCII name.
 */
export async function makeFixtureLayer(dir: string, mtime = 1_700_000_000): Promise<void> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await mkdir(join(dir, 'etc/opaque'), { recursive: true });
  await mkdir(join(dir, 'tmp'));
  await writeFile(join(dir, 'bin/ping'), 'ping binary');
  await chmod(join(dir, 'bin/ping'), 0o4755);
  await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  await chown(join(dir, 'etc/passwd'), 1000, 1001);
  await link(join(dir, 'etc/passwd'), join(dir, 'etc/passwd-hardlink'));
  await writeFile(join(dir, 'etc/opaque/new'), 'only this survives');
  await chown(join(dir, 'etc/opaque'), 100, 101);
  await chmod(join(dir, 'etc/opaque'), 0o2750);
  await writeFile(join(dir, 'big'), Buffer.alloc(300_000, 7));
  await writeFile(join(dir, `long-${'n'.repeat(150)}`), 'long name');
  await writeFile(join(dir, 'ünïcode'), 'utf-8 name');
  await chmod(join(dir, 'tmp'), 0o1777);
  await symlink('/etc/passwd', join(dir, 'abs-link'));
  await symlink('../etc/passwd', join(dir, 'bin/rel-link'));
  await makeNode(join(dir, 'fifo'), 'fifo', 0o640);
  await makeNode(join(dir, 'null'), 'char', 0o666, 1, 3);
  await makeWhiteouts([join(dir, 'etc/deleted')]);
  await writeXattrs(
    new Map([
      [join(dir, 'bin/ping'), new Map([['security.capability', CAP_NET_RAW]])],
      [join(dir, 'etc/opaque'), new Map([['trusted.overlay.opaque', Buffer.from('y')]])],
      [join(dir, 'etc/passwd'), new Map([['user.note', Buffer.from('hello')]])],
    ]),
  );
  for await (const { abs, stat } of walkTree(dir)) {
    if (!stat.isDirectory()) await lutimes(abs, mtime, mtime);
  }
  for await (const { abs, stat } of walkTree(dir)) {
    if (stat.isDirectory()) await utimes(abs, mtime, mtime);
  }
}

/**
 * A listing of a tree as a user would compare it: type, mode, owner, size, mtime, link
 * target, device numbers, content hash, xattrs, and which paths share an inode.
 */
export async function describeTree(root: string): Promise<string[]> {
  const xattrs = await readXattrs(root);
  const inodes = new Map<string, string>();
  const lines: string[] = [];
  for await (const { rel, abs, stat } of walkTree(root)) {
    const kind = stat.isDirectory()
      ? 'dir'
      : stat.isSymbolicLink()
        ? 'symlink'
        : stat.isFile()
          ? 'file'
          : stat.isFIFO()
            ? 'fifo'
            : stat.isCharacterDevice()
              ? 'char'
              : 'block';
    const parts = [rel, kind, (stat.mode & 0o7777).toString(8), `${stat.uid}:${stat.gid}`];
    const whiteout = kind === 'char' && stat.rdev === 0;
    if (!whiteout) parts.push(`mtime=${Math.floor(stat.mtimeMs / 1000)}`);
    if (kind === 'file') {
      parts.push(
        `size=${stat.size}`,
        createHash('sha256')
          .update(await readFile(abs))
          .digest('hex')
          .slice(0, 12),
      );
      const key = `${stat.ino}`;
      if (stat.nlink > 1 && inodes.has(key)) parts.push(`hardlink=${inodes.get(key)}`);
      else inodes.set(key, rel);
    }
    if (kind === 'symlink') parts.push(`-> ${await readlink(abs)}`);
    if (kind === 'char' || kind === 'block') {
      const { major, minor } = splitDevice(stat.rdev);
      parts.push(`${major}:${minor}`);
    }
    for (const [name, value] of [...(xattrs.get(abs) ?? [])].sort())
      parts.push(`${name}=${value.toString('base64')}`);
    lines.push(parts.join(' '));
  }
  return lines;
}

/** Does `path` exist (without following a final symlink)? */
export async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
}
