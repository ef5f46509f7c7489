/**
 * Which snapshotter this process's builds use (ADR 17), said as a warning when it is not
 * kernel overlayfs. Rootless or forced, it is probed up front (once per process, in a
 * directory of the store: overlay support depends on its file system), so the warning
 * comes before the steps. As root, kernel overlayfs is expected and not probed: a fully
 * cached build mounts nothing, and a probe costs it a mount and an unmount. Should the
 * first real mount find otherwise, `laterStorageNotice` says so after the steps.
 */
import { rm } from 'node:fs/promises';
import type { Store } from '../cache/types.ts';
import {
  describeChoice,
  forcedSnapshotter,
  selectSnapshotter,
  settledSnapshotter,
} from '../exec/snapshotter.ts';
import { inUserNamespace } from '../shared/userns.ts';

/** The warning line for this process's snapshotter, or undefined for kernel overlayfs. */
export async function storageNotice(store: Store): Promise<string | undefined> {
  if (!inUserNamespace() && forcedSnapshotter() === undefined) return undefined;
  const dir = await store.mountDir('probe');
  try {
    return describeChoice(await selectSnapshotter(dir));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** After the steps: the warning for a snapshotter chosen by a mount, if it is not overlayfs. */
export async function laterStorageNotice(): Promise<string | undefined> {
  const settled = settledSnapshotter();
  return settled && describeChoice(await settled);
}
