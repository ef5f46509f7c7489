/**
 * A layer unpacked where nothing can see it yet: a private temp directory of the store,
 * renamed into a snapshot's place only once its caller has checked it (the blob's digest,
 * the diff id). A crash, a failed check or a concurrent unpack of the same layer never
 * leaves a half-filled snapshot. A restore of a missing snapshot (store-check.ts) and a
 * FROM pull (images.ts) both unpack this way, while the blob downloads.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Store } from '../cache/types.ts';
import type { UnpackResult } from '../exporter/layer-unpack.ts';

/** A layer unpacked in `fs` (inside the private directory `temp`), not yet checked. */
export interface StagedLayer {
  temp: string;
  fs: string;
  result: UnpackResult;
}

/**
 * A blob this size or larger is unpacked in a worker thread (ADR 20): layers unpacked side
 * by side then create their files on both cores. Smaller ones are not worth a worker's
 * start-up (60–160 ms on a busy 2-core machine). A pull passes its own, larger threshold.
 */
export const WORKER_MIN_BLOB = 4 * 1024 * 1024;

/**
 * Unpack the layer blob `bytes` (`size` bytes, compressed as it is) into a new temp
 * directory, in a worker when `size` is at least `workerMin`. Throws what the unpack threw
 * (a TbuildError for a bad tar), leaving nothing.
 */
export async function unpackStaged(
  store: Store,
  bytes: Readable,
  size: number,
  options: { prefix?: string; workerMin?: number } = {},
): Promise<StagedLayer> {
  const { prefix = 'unpack', workerMin = WORKER_MIN_BLOB } = options;
  const unpack =
    size >= workerMin
      ? (await import('../exporter/unpack-in-worker.ts')).unpackLayerInWorker
      : (await import('../exporter/layer-unpack.ts')).unpackLayer;
  const temp = await store.tempDir(prefix);
  const fs = join(temp, 'fs');
  try {
    // The mode a snapshot's own `fs` gets (SnapshotStore.create): a layer's root entry
    // is not applied to it.
    await mkdir(fs, { mode: 0o755 });
    return { temp, fs, result: await unpack(bytes, fs) };
  } catch (error) {
    bytes.destroy();
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Rename the staged layer to `dir` (absent, or an empty directory); its temp directory
 * goes, whether or not the rename succeeded.
 */
export async function placeStaged(staged: StagedLayer, dir: string): Promise<void> {
  try {
    await rename(staged.fs, dir);
  } finally {
    await discardStaged(staged);
  }
}

/** Remove a staged layer that will not be placed. */
export async function discardStaged(staged: StagedLayer | undefined): Promise<void> {
  if (staged) await rm(staged.temp, { recursive: true, force: true });
}
