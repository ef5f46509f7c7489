/**
 * Which snapshotter this process's builds use (ADR 17): probed once per process in a
 * directory of the store (overlay support depends on the store's file system), and said
 * as a warning when it is not kernel overlayfs.
 */
import { rm } from 'node:fs/promises';
import type { Store } from '../cache/types.ts';
import { describeChoice, selectSnapshotter } from '../exec/snapshotter.ts';

/** The warning line for this process's snapshotter, or undefined for kernel overlayfs. */
export async function storageNotice(store: Store): Promise<string | undefined> {
  const dir = await store.mountDir('probe');
  try {
    return describeChoice(await selectSnapshotter(dir));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
