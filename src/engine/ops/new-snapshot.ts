/**
 * The one way an op makes a layer: a new snapshot on top of `base`, written by `write`
 * through a writable overlay (or, for an empty base when `direct`, straight into the
 * snapshot's directory), committed when `write` succeeds and removed on any failure.
 */
import type { SnapshotInfo } from '../../cache/types.ts';
import { readXattrTree } from '../../exec/mount-helper.ts';
import { readXattrs } from '../../exporter/xattrs.ts';
import type { XattrMap } from '../../shared/xattr-dump.ts';
import { lazyModule } from '../../shared/lazy-module.ts';
import { openScope, type Scope } from '../mounts.ts';
import type { EngineOptions, Ref } from '../types.ts';

const loadLayerTar = lazyModule(() => import('../../exporter/layer-tar.ts'));

/**
 * The extended attributes of a new image layer, read while its overlay is unmounted and
 * the snapshot committed, instead of after: the export's hash of the layer takes them
 * from here (takeLayerXattrs). Keyed by the result's ref, so an entry nobody takes goes
 * with it.
 */
const earlyXattrs = new WeakMap<Ref, Promise<XattrMap>>();

/**
 * A layer of up to this many entries is read by the mount helper (~3 µs an entry), not
 * by a `getfattr -R` process (a fork of tbuild, ~2 ms of its event loop); a mount that
 * comes meanwhile waits behind the walk, at most ~3 ms. A larger one goes to getfattr.
 */
const HELPER_XATTR_ENTRIES = 1000;

async function readLayerXattrs(layerDir: string): Promise<XattrMap> {
  const { layerXattrs } = await loadLayerTar();
  return layerXattrs(
    layerDir,
    async (dir) => (await readXattrTree(dir, HELPER_XATTR_ENTRIES)) ?? readXattrs(dir),
  );
}

/** The early read of `ref`'s extended attributes, if one was made; once. */
export function takeLayerXattrs(ref: Ref): Promise<XattrMap> | undefined {
  const read = earlyXattrs.get(ref);
  earlyXattrs.delete(ref);
  return read;
}

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
    /** The layer goes into the image: read its extended attributes early (above). */
    imageLayer?: boolean;
  } = {},
): Promise<Ref[]> {
  const scope = openScope(engine.store);
  let pending: number | undefined;
  try {
    let path: string;
    let layerDir: string;
    let inPlace = true;
    let unmount = async (): Promise<void> => {};
    if (base.kind === 'empty' && options.direct) {
      const snapshot = await engine.store.snapshots.create(null, description);
      pending = snapshot.id;
      path = layerDir = snapshot.dir;
      await options.seed?.(snapshot);
    } else {
      const mount = await scope.mountWritable(base, description, options.seed);
      pending = mount.snapshot.id;
      path = mount.path;
      layerDir = mount.snapshot.dir;
      inPlace = mount.inPlace;
      unmount = mount.unmount;
    }
    await write({ path, scope });
    // The unmount is asked first: the mount helper serves requests in order.
    const unmounted = unmount();
    // Nothing writes to the layer any more: where it is written in place, it is final.
    const xattrs = options.imageLayer && inPlace ? readLayerXattrs(layerDir) : undefined;
    xattrs?.catch(() => undefined); // taken by the export, which reads again on a failure
    await unmounted;
    await scope.close();
    // An image layer is hashed next (engine/worker.ts), which measures it on the way.
    const committed = await engine.store.snapshots.commit(pending, {
      sizeFromHash: options.imageLayer === true,
    });
    pending = undefined;
    const ref: Ref = { kind: 'snapshot', id: committed.id };
    if (xattrs) earlyXattrs.set(ref, xattrs);
    return [ref];
  } finally {
    await scope.close();
    if (pending !== undefined) await engine.store.snapshots.remove(pending);
  }
}
