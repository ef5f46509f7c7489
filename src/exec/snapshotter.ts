/**
 * Which snapshotter writable layers use (ADR 17): kernel overlayfs (with `userxattr` in a
 * rootless build's user namespace, Linux ≥ 5.11), else fuse-overlayfs, else the copying
 * snapshotter. The first that mounts in a probe wins, once per process;
 * TBUILD_SNAPSHOTTER=overlay|fuse-overlayfs|copy forces one (tests exercise each).
 * All three write the same upper format, so their layers are byte-identical.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { inUserNamespace } from '../shared/userns.ts';
import { UsageError } from '../shared/errors.ts';

export type SnapshotterName = 'overlay' | 'fuse-overlayfs' | 'copy';

export const SNAPSHOTTERS: readonly SnapshotterName[] = ['overlay', 'fuse-overlayfs', 'copy'];

/** Forces a snapshotter, with no probe and no fallback. */
export const SNAPSHOTTER_ENV = 'TBUILD_SNAPSHOTTER';

export interface SnapshotterChoice {
  name: SnapshotterName;
  /** Chosen by TBUILD_SNAPSHOTTER. */
  forced: boolean;
  /** Why each snapshotter before it could not be used. */
  skipped: Array<{ name: SnapshotterName; reason: string }>;
}

/** The snapshotter TBUILD_SNAPSHOTTER names, if any (a UsageError for an unknown name). */
export function forcedSnapshotter(
  env: NodeJS.ProcessEnv = process.env,
): SnapshotterName | undefined {
  const value = env[SNAPSHOTTER_ENV];
  if (value === undefined || value === '') return undefined;
  if ((SNAPSHOTTERS as readonly string[]).includes(value)) return value as SnapshotterName;
  throw new UsageError(`${SNAPSHOTTER_ENV}=${value} names no snapshotter`, {
    hint: `Set it to one of ${SNAPSHOTTERS.join(', ')}, or unset it to choose automatically.`,
  });
}

let chosen: Promise<SnapshotterChoice> | undefined;
let settled: SnapshotterChoice | undefined;
const watchers = new Set<(choice: SnapshotterChoice) => void>();

/**
 * Call `watcher` with the process's snapshotter once it is chosen (at once when it already
 * is). Returns the function that stops watching.
 */
export function watchSnapshotterChoice(watcher: (choice: SnapshotterChoice) => void): () => void {
  if (settled !== undefined) {
    watcher(settled);
    return () => undefined;
  }
  watchers.add(watcher);
  return () => void watchers.delete(watcher);
}

/**
 * The snapshotter for this process: forced, or the first of overlay, fuse-overlayfs and
 * copy that mounts (with a whiteout) in a probe under `probeParent`, a directory on the
 * store's file system. Probed once per process (after a kernel overlay mount failed); a
 * failed probe is not kept.
 */
export function selectSnapshotter(
  probeParent: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<SnapshotterChoice> {
  if (settled !== undefined) return Promise.resolve(settled);
  chosen ??= choose(probeParent, env).then(settleSnapshotter, (err: unknown) => {
    chosen = undefined;
    throw err;
  });
  return chosen;
}

/**
 * The snapshotter already known for this process without a probe: forced, or chosen.
 * Undefined before the first mount.
 */
export function knownSnapshotter(
  env: NodeJS.ProcessEnv = process.env,
): SnapshotterName | undefined {
  return forcedSnapshotter(env) ?? settled?.name;
}

/**
 * Record the process's snapshotter (the first choice stays) and tell the watchers. The
 * first mount settles kernel overlayfs by working: a separate probe would cost every build
 * two more mount(8) runs.
 */
export function settleSnapshotter(choice: SnapshotterChoice): SnapshotterChoice {
  if (settled !== undefined) return settled;
  settled = choice;
  for (const watcher of watchers) watcher(choice);
  watchers.clear();
  return choice;
}

async function choose(probeParent: string, env: NodeJS.ProcessEnv): Promise<SnapshotterChoice> {
  const forced = forcedSnapshotter(env);
  if (forced !== undefined) return { name: forced, forced: true, skipped: [] };
  const skipped: SnapshotterChoice['skipped'] = [];
  for (const name of ['overlay', 'fuse-overlayfs'] as const) {
    const reason = await probeSnapshotter(name, probeParent);
    if (reason === undefined) return { name, forced: false, skipped };
    skipped.push({ name, reason });
  }
  return { name: 'copy', forced: false, skipped };
}

/**
 * Try `name` in a scratch directory under `parent`: mount two lowers and an upper, delete
 * a lower file through the mount, unmount, and check that a whiteout was left. Returns
 * why it failed, or undefined when it works.
 */
export async function probeSnapshotter(
  name: SnapshotterName,
  parent: string,
): Promise<string | undefined> {
  if (name === 'copy') return undefined;
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(path.join(parent, `probe-${name}-`));
  try {
    for (const sub of ['l1', 'l2', 'u', 'w', 'm']) await mkdir(path.join(dir, sub));
    await writeFile(path.join(dir, 'l1/f'), 'f');
    await writeFile(path.join(dir, 'l2/g'), 'g');
    const { mountKernelOverlay } = await import('./overlay.ts');
    const options = {
      lower: [path.join(dir, 'l2'), path.join(dir, 'l1')],
      upper: path.join(dir, 'u'),
      work: path.join(dir, 'w'),
      target: path.join(dir, 'm'),
    };
    const mount =
      name === 'overlay'
        ? await mountKernelOverlay({
            snapshotsDir: dir,
            lower: ['l2', 'l1'],
            upper: 'u',
            work: 'w',
            target: options.target,
          })
        : await (await import('./fuse-overlay.ts')).mountFuseOverlay(options);
    try {
      await rm(path.join(options.target, 'f'));
    } finally {
      await mount.unmount();
    }
    const { lstat } = await import('node:fs/promises');
    const whiteout = await lstat(path.join(dir, 'u/f')).catch(() => undefined);
    if (!whiteout?.isCharacterDevice() || whiteout.rdev !== 0)
      return 'deleting a lower file left no whiteout in the upper directory';
    return undefined;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * The line a build shows when it does not use kernel overlayfs, or undefined: what is
 * used, and why (the copying snapshotter is much slower and uses more disk).
 */
export function describeChoice(choice: SnapshotterChoice): string | undefined {
  if (choice.name === 'overlay' && choice.skipped.length === 0) {
    return choice.forced ? `storage: kernel overlayfs (forced by ${SNAPSHOTTER_ENV})` : undefined;
  }
  const what =
    choice.name === 'copy'
      ? 'the copying snapshotter (every step copies its base: slower, and more disk)'
      : choice.name === 'fuse-overlayfs'
        ? 'fuse-overlayfs'
        : 'kernel overlayfs';
  if (choice.forced) return `storage: ${what}, forced by ${SNAPSHOTTER_ENV}`;
  const why = choice.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  const where = inUserNamespace() ? ' in this user namespace' : '';
  return `storage: ${what}; the faster snapshotters do not work${where} (${why}). Run \`tbuild doctor\` for the fix.`;
}
