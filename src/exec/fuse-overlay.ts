/**
 * The fuse-overlayfs snapshotter: overlayfs in user space, for a user namespace whose
 * kernel cannot mount overlayfs there (Linux < 5.11) but that may use /dev/fuse. It runs
 * in the foreground as a child of tbuild, so unmounting waits until it has exited and
 * everything it wrote is in the upper directory. fuse-overlayfs writes whiteouts and
 * opaque directories in forms of its own when it cannot use the kernel's (`.wh.` files,
 * `.wh..wh..opq` markers, `user.fuseoverlayfs.opaque`): after unmounting they are turned
 * into overlayfs's upper format, which the layer writer and later mounts read.
 */
import { spawn } from 'node:child_process';
import { lstat, readdir, readFile, rm, utimes } from 'node:fs/promises';
import path from 'node:path';
import { overlayOpaqueXattr } from '../shared/userns.ts';
import { delay } from './command.ts';
import { makeWhiteouts } from './copy-snapshot.ts';
import { MountError } from './errors.ts';
import { unmountPath, type Mount } from './overlay.ts';
import { readPathXattrs, readTreeXattrs, writeXattrs, type XattrMap } from './xattrs.ts';

export interface FuseMountOptions {
  /** Absolute lower directories, nearest (topmost) first. */
  lower: readonly string[];
  /** Absolute upper and work directories; omit both for a read-only view. */
  upper?: string;
  work?: string;
  /** Absolute mount point. */
  target: string;
}

/** How long fuse-overlayfs may take to mount, and to exit after its unmount. */
const MOUNT_TIMEOUT_MS = 10_000;

/** Mount with fuse-overlayfs; unmounting also normalizes the upper directory. */
export async function mountFuseOverlay(options: FuseMountOptions): Promise<Mount> {
  const { lower, upper, work, target } = options;
  for (const dir of [...lower, upper ?? '', work ?? '']) {
    if (/[,:]/.test(dir))
      throw new MountError(`fuse-overlayfs layer path "${dir}" contains ',' or ':'`);
  }
  let data = `lowerdir=${lower.join(':')}`;
  if (upper !== undefined) data += `,upperdir=${upper},workdir=${work ?? `${upper}-work`}`;
  // Other users (RUN as USER) must reach the files: FUSE admits only the mounter without it.
  data += ',allow_other';
  const child = spawn('fuse-overlayfs', ['-f', '-o', data, target], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', (err: NodeJS.ErrnoException) => {
      stderr += err.code === 'ENOENT' ? 'fuse-overlayfs is not installed' : err.message;
      resolve(null);
    });
    child.on('close', (code) => resolve(code));
  });
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + MOUNT_TIMEOUT_MS;
  while (!(await isFuseMount(target))) {
    if (gone || Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new MountError(`fuse-overlayfs mount at ${target} failed: ${stderr.trim()}`, {
        hint: 'fuse-overlayfs needs /dev/fuse readable and writable by this user (Debian package fuse-overlayfs); run `tbuild doctor`.',
      });
    }
    await delay(5);
  }
  let done: Promise<void> | undefined;
  const unmount = async (): Promise<void> => {
    await unmountPath(target);
    // A pending timer would keep the process alive after the build: cleared once it exits.
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      exited.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), MOUNT_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    if (!stopped) {
      child.kill('SIGKILL');
      await exited;
    }
    if (upper !== undefined) await normalizeUpper(upper, lower);
  };
  return { target, unmount: () => (done ??= unmount()) };
}

/** Whether the merged view of `lower` (topmost first) has an entry at `rel`. */
async function inLowerView(lower: readonly string[], rel: string): Promise<boolean> {
  const parts = rel.split('/');
  const opaqueName = overlayOpaqueXattr();
  for (const layer of lower) {
    // An opaque directory on the way hides the layers below this one.
    let stop = false;
    for (let i = 1; i <= parts.length; i++) {
      const abs = path.join(layer, ...parts.slice(0, i));
      const stat = await lstat(abs).catch(() => undefined);
      if (stat === undefined) break;
      if (stat.isCharacterDevice() && stat.rdev === 0) return false;
      if (i === parts.length) return true;
      if (!stat.isDirectory()) return false;
      const attrs = await readPathXattrs([abs]);
      if (attrs.get(abs)?.get(opaqueName)?.toString() === 'y') stop = true;
    }
    if (stop) return false;
  }
  return false;
}

/** Whether a FUSE file system is mounted at exactly `target`. */
async function isFuseMount(target: string): Promise<boolean> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (fields[4] === target && dash !== -1 && fields[dash + 1]?.startsWith('fuse')) return true;
  }
  return false;
}

/** The opaque markers fuse-overlayfs may write, whatever its privileges. */
const OPAQUE_NAMES = ['trusted.overlay.opaque', 'user.overlay.opaque', 'user.fuseoverlayfs.opaque'];
const OPAQUE_FILE = '.wh..wh..opq';
const WHITEOUT_PREFIX = '.wh.';

/**
 * Turn fuse-overlayfs's own forms into overlayfs's upper format: `.wh.NAME` files become
 * whiteout devices NAME, `.wh..wh..opq` (a file, or a whiteout named `.wh..opq`) and any
 * opaque attribute become the opaque attribute this process's overlayfs reads, and its
 * `user.fuseoverlayfs.*` bookkeeping goes. fuse-overlayfs marks every directory it makes
 * opaque; overlayfs only those made where `lower` had an entry, so only those stay
 * opaque. Directory times are kept: removing a marker must not look like a change.
 */
export async function normalizeUpper(upper: string, lower: readonly string[]): Promise<void> {
  const xattrs = await readTreeXattrs(upper);
  const canonical = overlayOpaqueXattr();
  const opaque = new Set<string>();
  const remove = new Map<string, string[]>();
  for (const [file, attrs] of xattrs) {
    const own = [...attrs.keys()].filter(
      (n) => n.startsWith('user.fuseoverlayfs.') || (OPAQUE_NAMES.includes(n) && n !== canonical),
    );
    if (own.length > 0) remove.set(file, own);
    if (OPAQUE_NAMES.some((n) => attrs.get(n)?.toString() === 'y')) opaque.add(file);
  }
  const whiteouts: string[] = [];
  const restoreTimes: Array<[string, Date, Date]> = [];
  const visit = async (dir: string): Promise<void> => {
    let touched = false;
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const abs = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        await visit(abs);
        continue;
      }
      if (!entry.name.startsWith(WHITEOUT_PREFIX)) continue;
      const stat = await lstat(abs);
      if (entry.name === OPAQUE_FILE || (entry.name === '.wh..opq' && stat.rdev === 0)) {
        opaque.add(dir);
      } else if (entry.isFile() && stat.size === 0) {
        whiteouts.push(path.join(dir, entry.name.slice(WHITEOUT_PREFIX.length)));
      } else continue;
      if (!touched) {
        const before = await lstat(dir);
        touched = true;
        restoreTimes.push([dir, before.atime, before.mtime]);
      }
      await rm(abs);
    }
  };
  await visit(upper);
  await makeWhiteouts(whiteouts);
  const set: XattrMap = new Map();
  for (const dir of opaque) {
    if (await inLowerView(lower, path.relative(upper, dir)))
      set.set(dir, new Map([[canonical, Buffer.from('y')]]));
    else if (xattrs.get(dir)?.has(canonical)) {
      remove.set(dir, [...(remove.get(dir) ?? []), canonical]);
    }
  }
  await writeXattrs(set, `${upper}.xattrs`, remove);
  for (const [dir, atime, mtime] of restoreTimes.reverse()) await utimes(dir, atime, mtime);
}
