/**
 * Overlay mounts for snapshots. Node has no mount(2): kernel overlays are mounted and
 * unmounted through the mount helper (mount-helper.ts), else by mount(8) and umount(8),
 * with cwd = the snapshots folder: lowerdir/upperdir/workdir are given RELATIVE to it,
 * which keeps the option string short (the kernel reads at most one page of it).
 */
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import path from 'node:path';
import { inUserNamespace } from '../shared/userns.ts';
import { delay, runCommand } from './command.ts';
import { MountError, OverlayOptionsTooLongError, UnmountError } from './errors.ts';
import { mountSyscall, umountSyscall } from './mount-helper.ts';
import { lazyModule } from '../shared/lazy-module.ts';

const loadSnapshotter = lazyModule(() => import('./snapshotter.ts'));

/** What to mount: snapshot directories relative to `snapshotsDir`. */
export interface OverlayMountOptions {
  /** Folder the layer paths are relative to (mount runs with this cwd). */
  snapshotsDir: string;
  /** Read-only layers, nearest (topmost) first, relative to snapshotsDir. */
  lower: string[];
  /** Writable layer relative to snapshotsDir; omit for a read-only mount. */
  upper?: string;
  /** Overlay work dir on the same filesystem as upper; default `<upper>-work`. */
  work?: string;
  /** Absolute mount point; created when missing. */
  target: string;
}

export interface Mount {
  target: string;
  /** Unmount (idempotent): retries while busy, lazy-unmounts as a last resort. */
  unmount(): Promise<void>;
  /**
   * The upper directory is written as the mount is (kernel overlayfs, a bind mount), so a
   * layer is final once its writers are done, before the unmount. Not so for the copying
   * snapshotter (it makes the layer at the unmount) or fuse-overlayfs (its daemon writes).
   */
  inPlace?: boolean;
}

/** The kernel copies at most one page (4096 bytes, NUL included) of mount data. */
export const MOUNT_DATA_LIMIT = 4095;

/**
 * Docker's overlay2 driver turns these off: index and redirect_dir would tie an upper
 * dir to the exact lower dirs it was created with, and metacopy leaves metadata-only
 * copies that are not self-contained layers.
 */
const FIXED_OPTIONS = 'index=off,metacopy=off,redirect_dir=off';
/**
 * In a rootless build's user namespace (ADR 17) overlay keeps its attributes under
 * `user.overlay.*` (`userxattr`, Linux ≥ 5.11), and refuses `redirect_dir=off` with it:
 * `nofollow` likewise neither creates nor follows redirects.
 */
const USERNS_OPTIONS = 'userxattr,index=off,metacopy=off,redirect_dir=nofollow';

/**
 * The `-o` string for an overlay mount, checked against the one-page limit.
 * Throws OverlayOptionsTooLongError when the chain is too deep to mount.
 */
export function formatOverlayOptions(
  lower: readonly string[],
  upper?: string,
  work?: string,
): string {
  for (const dir of [...lower, upper ?? '', work ?? '']) {
    if (/[,:\\]/.test(dir)) {
      throw new MountError(`overlay layer path "${dir}" contains ',', ':' or '\\'`, {
        hint: 'Use snapshot ids made of letters, digits, "-" and "/" only.',
      });
    }
  }
  const fixed = inUserNamespace() ? USERNS_OPTIONS : FIXED_OPTIONS;
  let options = `${fixed},lowerdir=${lower.join(':')}`;
  if (upper !== undefined) options += `,upperdir=${upper},workdir=${work ?? `${upper}-work`}`;
  const length = Buffer.byteLength(options);
  if (length > MOUNT_DATA_LIMIT) throw new OverlayOptionsTooLongError(length, lower.length);
  return options;
}

/**
 * Mount an overlay of `lower` (+ `upper`) at `target`. Without an upper and with a
 * single lower, overlayfs refuses to mount, so the lower is bind-mounted read-only;
 * with an upper and no lower the upper itself is bind-mounted read-write. Otherwise the
 * process's snapshotter (exec/snapshotter.ts) mounts it: kernel overlayfs, fuse-overlayfs
 * or the copying snapshotter, which all leave the upper dir in overlayfs's format.
 */
export async function mountOverlay(options: OverlayMountOptions): Promise<Mount> {
  const { snapshotsDir, lower, upper, target } = options;
  if (!path.isAbsolute(target)) throw new MountError(`mount target ${target} is not absolute`);
  mkdirSync(target, { recursive: true });
  if (upper === undefined) {
    if (lower.length === 0) {
      throw new MountError(`nothing to mount at ${target}: no lower and no upper layer`, {
        hint: 'Pass at least one layer; an empty image needs an upper (writable) layer.',
      });
    }
    if (lower.length === 1) {
      await bindMount(path.resolve(snapshotsDir, lower[0]!), target, true);
      return createMount(target);
    }
  } else if (lower.length === 0) {
    mkdirSync(path.resolve(snapshotsDir, upper), { recursive: true });
    await bindMount(path.resolve(snapshotsDir, upper), target, false);
    return createMount(target);
  }
  const snapshotter = await loadSnapshotter();
  const known = snapshotter.knownSnapshotter();
  const forced = snapshotter.forcedSnapshotter() !== undefined;
  if (known === undefined || known === 'overlay') {
    // The first mount is the probe: when kernel overlayfs works, nothing else is tried.
    try {
      const mount = await mountKernelOverlay(options);
      snapshotter.settleSnapshotter({ name: 'overlay', forced, skipped: [] });
      return mount;
    } catch (err) {
      if (known === 'overlay' || !(err instanceof MountError)) throw err;
    }
  }
  const { name } =
    known === undefined
      ? await snapshotter.selectSnapshotter(path.dirname(target))
      : snapshotter.settleSnapshotter({ name: known, forced, skipped: [] });
  // The probe mounted overlayfs where this mount failed: the failure is this mount's own.
  if (name === 'overlay') return mountKernelOverlay(options);
  const absolute = {
    lower: lower.map((dir) => path.resolve(snapshotsDir, dir)),
    target,
    ...(upper === undefined
      ? {}
      : {
          upper: path.resolve(snapshotsDir, upper),
          work: path.resolve(snapshotsDir, options.work ?? `${upper}-work`),
        }),
  };
  if (name === 'fuse-overlayfs') {
    if (absolute.upper !== undefined) {
      mkdirSync(absolute.upper, { recursive: true });
      mkdirSync(absolute.work!, { recursive: true });
    }
    return (await import('./fuse-overlay.ts')).mountFuseOverlay(absolute);
  }
  return (await import('./copy-snapshot.ts')).mountCopy(absolute);
}

/** A kernel overlayfs mount (two or more layers, or one under an upper). */
export async function mountKernelOverlay(options: OverlayMountOptions): Promise<Mount> {
  const { snapshotsDir, lower, upper, target } = options;
  const work = options.work ?? (upper === undefined ? undefined : `${upper}-work`);
  const data = formatOverlayOptions(lower, upper, work);
  if (upper !== undefined && work !== undefined) {
    mkdirSync(path.resolve(snapshotsDir, upper), { recursive: true });
    mkdirSync(path.resolve(snapshotsDir, work), { recursive: true });
  }
  // A failure is mount(8)'s to report, in its words (or it succeeds there).
  if ((await mountSyscall(snapshotsDir, 'overlay', 'overlay', target, data)) === 0)
    return createMount(target);
  const result = await runMount(['-t', 'overlay', 'overlay', '-o', data, target], snapshotsDir);
  if (result.code !== 0) {
    throw new MountError(`overlay mount at ${target} failed: ${result.stderr.trim()}`, {
      hint: inUserNamespace()
        ? 'Rootless builds need overlayfs in a user namespace (Linux 5.11 or newer) and a store on ext4 or xfs, or else fuse-overlayfs; run `tbuild doctor`.'
        : 'Check that the layers exist and that the store is on ext4 or xfs (overlayfs cannot use overlay, NFS or tmpfs-with-xattrs-off as upper).',
    });
  }
  return createMount(target);
}

async function bindMount(source: string, target: string, readonly: boolean): Promise<void> {
  // util-linux turns `bind,ro` into a bind mount followed by a read-only remount.
  const result = await runMount(['-o', readonly ? 'bind,ro' : 'bind', source, target]);
  if (result.code !== 0) {
    throw new MountError(`bind mount of ${source} at ${target} failed: ${result.stderr.trim()}`, {
      hint: 'Check that the layer directory exists.',
    });
  }
}

async function runMount(args: string[], cwd?: string) {
  try {
    return await runCommand('mount', args, cwd === undefined ? {} : { cwd });
  } catch (err) {
    throw new MountError(`could not run mount(8): ${(err as Error).message}`, {
      hint: 'Install util-linux `mount` (package mount).',
      cause: err,
    });
  }
}

/** A mount made by mount(8): its upper directory, if any, is written in place. */
function createMount(target: string): Mount {
  let done: Promise<void> | undefined;
  return {
    target,
    unmount: () => (done ??= unmountPath(target)),
    inPlace: true,
  };
}

/**
 * Unmount `target`. "Not mounted" counts as success. A busy mount is retried for about
 * a second (a process in it may just be exiting), then detached lazily.
 */
export async function unmountPath(target: string): Promise<void> {
  // Unmounted, or not a mount point (EINVAL) or gone (ENOENT); busy and the rest are
  // retried and reported by umount(8).
  const errno = await umountSyscall(target);
  if (errno === 0 || errno === EINVAL || errno === ENOENT) return;
  let last = '';
  for (let attempt = 0; attempt < 8; attempt++) {
    const result = await runCommand('umount', [target]);
    if (result.code === 0 || isNotMounted(result.stderr)) return;
    last = result.stderr.trim();
    if (!/busy/i.test(last)) break;
    await delay(25 * 2 ** Math.min(attempt, 4));
  }
  const lazy = await runCommand('umount', ['-l', target]);
  if (lazy.code === 0 || isNotMounted(lazy.stderr)) return;
  throw new UnmountError(target, `${last}; lazy unmount: ${lazy.stderr.trim()}`);
}

const { EINVAL, ENOENT } = constants.errno;

function isNotMounted(stderr: string): boolean {
  return /not mounted|no mount point specified|No such file or directory/i.test(stderr);
}

/** Mount points at or under `prefix`, in /proc/self/mountinfo order (oldest first). */
export async function listMounts(prefix: string): Promise<string[]> {
  const root = path.resolve(prefix);
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const points: string[] = [];
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (field === undefined) continue;
    const point = decodeMountinfoPath(field);
    if (point === root || point.startsWith(root === '/' ? '/' : `${root}/`)) points.push(point);
  }
  return points;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function decodeMountinfoPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  );
}

/**
 * Unmount everything mounted at or under `prefix` (newest first, so stacked and nested
 * mounts come off in order). Used at startup to clear mounts a killed build left behind.
 * Returns the mount points it unmounted.
 */
export async function unmountAll(prefix: string): Promise<string[]> {
  const points = (await listMounts(prefix)).reverse();
  for (const point of points) await unmountPath(point);
  return points;
}
