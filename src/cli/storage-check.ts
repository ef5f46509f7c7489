/**
 * `tbuild doctor`'s storage line (ADR 17): which snapshotter builds would use, probed for
 * real in the store (kernel overlayfs, fuse-overlayfs, copy). An ordinary user's builds run
 * in a user namespace, so the probe runs there too: doctor runs itself again in one with
 * `--probe-storage FILE`, and reads the results from FILE.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CheckResult } from '../doctor/index.ts';
import type { SnapshotterName } from '../exec/snapshotter.ts';
import { ROOTLESS_ENV } from '../shared/userns.ts';

/** What each snapshotter did in the probe: undefined when it works, else why not. */
export type StorageProbe = Partial<Record<SnapshotterName, string | null>>;

/** Probe overlay and fuse-overlayfs in `storeRoot` (this process's namespace). */
export async function probeStorage(storeRoot: string): Promise<StorageProbe> {
  const { probeSnapshotter } = await import('../exec/snapshotter.ts');
  const parent = path.join(storeRoot, 'tmp');
  await mkdir(parent, { recursive: true });
  const result: StorageProbe = {};
  for (const name of ['overlay', 'fuse-overlayfs'] as const)
    result[name] = (await probeSnapshotter(name, parent)) ?? null;
  return result;
}

/** The probe as builds would see it: in a user namespace for an ordinary user. */
async function probeAsBuilds(storeRoot: string): Promise<StorageProbe> {
  if ((process.getuid?.() ?? 0) === 0) return probeStorage(storeRoot);
  const { planForCurrentUser, runInUserNamespace } = await import('../rootless/index.ts');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tbuild-doctor-'));
  try {
    const file = path.join(dir, 'probe.json');
    const script = process.argv[1];
    const status = await runInUserNamespace(await planForCurrentUser(), {
      command: process.execPath,
      args: [
        ...process.execArgv,
        ...(script === undefined ? [] : [script]),
        'doctor',
        '--probe-storage',
        file,
        '--root',
        storeRoot,
      ],
      env: { ...process.env, [ROOTLESS_ENV]: '1' },
    });
    if (status !== 0) throw new Error(`the probe in a user namespace exited with ${status}`);
    return JSON.parse(await readFile(file, 'utf8')) as StorageProbe;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `--probe-storage FILE`: write the probe's results for the parent doctor. */
export async function writeStorageProbe(file: string, storeRoot: string): Promise<void> {
  await writeFile(file, JSON.stringify(await probeStorage(storeRoot)));
}

/** The doctor line for the snapshotter builds would use in `storeRoot`. */
export async function storageCheck(
  storeRoot: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CheckResult> {
  const id = 'storage';
  let probe: StorageProbe;
  try {
    probe = await probeAsBuilds(storeRoot);
  } catch (err) {
    return { id, status: 'warn', detail: `could not probe the store: ${(err as Error).message}` };
  }
  const forced = env.TBUILD_SNAPSHOTTER
    ? ` (TBUILD_SNAPSHOTTER=${env.TBUILD_SNAPSHOTTER} overrides it)`
    : '';
  const rootless = (process.getuid?.() ?? 0) !== 0;
  if (probe.overlay === null)
    return {
      id,
      status: 'ok',
      detail: `kernel overlayfs${rootless ? ' in a user namespace (userxattr)' : ''}${forced}`,
    };
  const why = `overlayfs: ${probe.overlay}`;
  const overlayHint = rootless
    ? 'Linux 5.11 or newer mounts overlayfs in a user namespace'
    : 'put the store on ext4 or xfs (--root), which overlayfs can use as upper layer';
  if (probe['fuse-overlayfs'] === null)
    return {
      id,
      status: 'warn',
      detail: `fuse-overlayfs, since ${why}${forced}`,
      hint: `For kernel overlayfs: ${overlayHint}.`,
    };
  return {
    id,
    status: 'warn',
    detail: `the copying snapshotter (slow: every step copies its base), since ${why}; fuse-overlayfs: ${probe['fuse-overlayfs']}${forced}`,
    hint: `For kernel overlayfs: ${overlayHint}. For fuse-overlayfs: install it (sudo apt-get install fuse-overlayfs) and let users open /dev/fuse (sudo chmod 0666 /dev/fuse, as udev does).`,
  };
}
