/**
 * The one way an op makes a layer: a new snapshot on top of `base`, written by `write`
 * through a writable overlay (or, for an empty base when `direct`, straight into the
 * snapshot's directory), committed when `write` succeeds and removed on any failure.
 */
import type { SnapshotInfo } from '../../cache/types.ts';
import { openScope, type Scope } from '../mounts.ts';
import type { EngineOptions, Ref } from '../types.ts';

export interface LayerTarget {
  /** Host path of the filesystem being written. */
  path: string;
  /** Mounts and temp dirs for the op; released before the commit. */
  scope: Scope;
}

export async function writeNewSnapshot(
  engine: EngineOptions,
  base: Ref,
  description: string,
  write: (target: LayerTarget) => Promise<void>,
  options: {
    direct?: boolean;
    /** Fill the new snapshot's directory before it is mounted or written. */
    seed?: (snapshot: SnapshotInfo) => Promise<void>;
  } = {},
): Promise<Ref[]> {
  const scope = openScope(engine.store);
  let pending: number | undefined;
  try {
    let path: string;
    let unmount = async (): Promise<void> => {};
    if (base.kind === 'empty' && options.direct) {
      const snapshot = await engine.store.snapshots.create(null, description);
      pending = snapshot.id;
      path = snapshot.dir;
      await options.seed?.(snapshot);
    } else {
      const mount = await scope.mountWritable(base, description, options.seed);
      pending = mount.snapshot.id;
      path = mount.path;
      unmount = mount.unmount;
    }
    await write({ path, scope });
    await unmount();
    await scope.close();
    const committed = await engine.store.snapshots.commit(pending);
    pending = undefined;
    return [{ kind: 'snapshot', id: committed.id }];
  } finally {
    await scope.close();
    if (pending !== undefined) await engine.store.snapshots.remove(pending);
  }
}
