/**
 * Apply layer directories (overlayfs upperdir form) in order onto a plain directory, the
 * way overlayfs would merge them: whiteouts delete, opaque directories hide what was
 * below, other directories merge, everything else replaces. Used by the `local` and `tar`
 * outputs when the engine hands over layers instead of a merged mount.
 */
import type { Stats } from 'node:fs';
import {
  chmod,
  copyFile,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  readdir,
  readlink,
  rm,
  symlink,
  utimes,
} from 'node:fs/promises';
import { join } from 'node:path';
import { overlayOpaqueXattr } from '../shared/userns.ts';
import { makeNode } from './special-files.ts';
import { splitDevice } from './tools.ts';
import { walkTree } from './tree-walk.ts';
import { isOverlayXattr, readXattrs, writeXattrs, type XattrMap } from './xattrs.ts';

export interface ApplyOptions {
  /** Give files the layers' owners (default: when running as root). */
  owners?: boolean;
}

/** Apply `layerDirs` (lowest first) onto `dest`, creating it if needed. */
export async function applyLayers(
  layerDirs: readonly string[],
  dest: string,
  options: ApplyOptions = {},
): Promise<void> {
  await mkdir(dest, { recursive: true });
  const owners = options.owners ?? process.getuid?.() === 0;
  const dirTimes = new Map<string, number>();
  for (const layer of layerDirs) await applyLayer(layer, dest, dirTimes, owners);
  // Children changed their parents' times: set directory times last, deepest first.
  const dirs = [...dirTimes].sort(([a], [b]) => b.split('/').length - a.split('/').length);
  for (const [rel, seconds] of dirs) {
    const stat = await lstatOrUndefined(join(dest, rel));
    if (stat?.isDirectory()) await utimes(join(dest, rel), seconds, seconds);
  }
}

async function applyLayer(
  layer: string,
  dest: string,
  dirTimes: Map<string, number>,
  owners: boolean,
): Promise<void> {
  let xattrs: XattrMap | undefined;
  const pending: XattrMap = new Map();
  const firstLinks = new Map<string, string>();
  for await (const { rel, abs, stat } of walkTree(layer)) {
    xattrs ??= await readXattrs(layer);
    const target = join(dest, rel);
    const existing = await lstatOrUndefined(target);
    const attrs = xattrs.get(abs);
    if (stat.isCharacterDevice() && stat.rdev === 0) {
      await rm(target, { recursive: true, force: true });
      continue;
    }
    if (stat.isDirectory()) {
      if (existing && !existing.isDirectory()) await rm(target, { force: true });
      if (existing?.isDirectory() && attrs?.get(overlayOpaqueXattr())?.toString() === 'y') {
        await emptyDirectory(target);
      }
      if (!existing?.isDirectory()) await mkdir(target);
      dirTimes.set(rel, Math.floor(stat.mtimeMs / 1000));
    } else {
      if (existing) await rm(target, { recursive: true, force: true });
      const key = `${stat.dev}:${stat.ino}`;
      const first = stat.nlink > 1 ? firstLinks.get(key) : undefined;
      if (first !== undefined) {
        await link(first, target);
        continue;
      }
      if (stat.nlink > 1) firstLinks.set(key, target);
      await createCopy(abs, target, stat);
    }
    await copyMetadata(target, stat, owners);
    const kept = new Map([...(attrs ?? [])].filter(([name]) => !isOverlayXattr(name)));
    if (kept.size > 0) pending.set(target, kept);
  }
  await writeXattrs(pending);
}

async function createCopy(source: string, target: string, stat: Stats): Promise<void> {
  if (stat.isFile()) await copyFile(source, target);
  else if (stat.isSymbolicLink()) await symlink(await readlink(source), target);
  else if (stat.isFIFO()) await makeNode(target, 'fifo', stat.mode);
  else if (stat.isCharacterDevice() || stat.isBlockDevice()) {
    const { major, minor } = splitDevice(stat.rdev);
    await makeNode(target, stat.isCharacterDevice() ? 'char' : 'block', stat.mode, major, minor);
  }
}

async function copyMetadata(target: string, stat: Stats, owners: boolean): Promise<void> {
  if (stat.isSocket()) return;
  if (owners) await lchown(target, stat.uid, stat.gid);
  // libuv's copyfile gives the copy its source's owner where it may (as root): undo that.
  else if (stat.isFile() && process.getuid?.() === 0)
    await lchown(target, process.getuid(), process.getgid?.() ?? 0);
  if (!stat.isSymbolicLink()) await chmod(target, stat.mode & 0o7777); // after chown: it clears setuid
  if (!stat.isDirectory()) await lutimes(target, stat.atime, stat.mtime);
}

async function emptyDirectory(dir: string): Promise<void> {
  for (const name of await readdir(dir))
    await rm(join(dir, name), { recursive: true, force: true });
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  return lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
}
