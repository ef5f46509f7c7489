/**
 * Mount points for ops: read-only views of a Ref and writable overlays whose upper dir is
 * a new snapshot. Every mount lives under `<store>/mounts/<pid>-<random>/`, so a crashed
 * build's mounts are found and removed by the next start; every path out of an op
 * releases what it mounted.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { SnapshotInfo, Store } from '../cache/types.ts';
import type { Mount, OverlayMountOptions } from '../exec/overlay.ts';
import type { Ref } from './types.ts';

export interface Scope {
  /** Release everything acquired through this scope, last first. Never throws twice. */
  close(): Promise<void>;
  /** A fresh empty directory (for scratch mounts, temp files); removed on close. */
  tempDir(): Promise<string>;
  /** Read-only view of `ref` at a fresh mount point; returns its host path. */
  mountReadOnly(ref: Ref): Promise<string>;
  /** Writable view of `ref` whose writes become a new (uncommitted) snapshot. */
  mountWritable(
    ref: Ref,
    description: string,
  ): Promise<{ path: string; snapshot: SnapshotInfo; unmount(): Promise<void> }>;
  /** Writable view of `ref` whose writes are thrown away (RUN --mount=type=bind,rw). */
  mountScratchWritable(ref: Ref): Promise<string>;
}

/** exec/overlay is loaded on the first mount: cached builds mount nothing. */
async function mountOverlay(options: OverlayMountOptions): Promise<Mount> {
  return (await import('../exec/overlay.ts')).mountOverlay(options);
}

/** Open a mount scope for one op. */
export function openScope(store: Store): Scope {
  const cleanups: Array<() => Promise<void>> = [];
  let counter = 0;
  const fresh = async (): Promise<string> => {
    const dir = await store.mountDir(`op${counter++}`);
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  };
  const lowerOf = (ref: Ref): string[] =>
    ref.kind === 'snapshot'
      ? store.snapshots.chain(ref.id).map((s) => path.relative(store.snapshots.dir, s.dir))
      : [];
  const track = (mount: Mount): void => {
    cleanups.push(() => mount.unmount());
  };

  return {
    tempDir: fresh,
    async close() {
      let first: unknown;
      for (const cleanup of cleanups.splice(0).reverse()) {
        try {
          await cleanup();
        } catch (error) {
          first ??= error;
        }
      }
      if (first) throw first;
    },
    async mountReadOnly(ref) {
      if (ref.kind === 'local') return ref.root;
      if (ref.kind === 'empty') return fresh();
      const target = path.join(await fresh(), 'rootfs');
      track(await mountOverlay({ snapshotsDir: store.snapshots.dir, lower: lowerOf(ref), target }));
      return target;
    },
    async mountWritable(ref, description) {
      if (ref.kind === 'local')
        throw new Error('internal: a local context cannot be a writable base');
      const parent = ref.kind === 'snapshot' ? ref.id : null;
      const snapshot = await store.snapshots.create(parent, description);
      const target = path.join(await fresh(), 'rootfs');
      const mount = await mountOverlay({
        snapshotsDir: store.snapshots.dir,
        lower: lowerOf(ref),
        upper: path.relative(store.snapshots.dir, snapshot.dir),
        work: path.relative(store.snapshots.dir, snapshot.workDir),
        target,
      });
      track(mount);
      return { path: target, snapshot, unmount: () => mount.unmount() };
    },
    async mountScratchWritable(ref) {
      const base = await fresh();
      const upper = path.join(base, 'upper');
      const work = path.join(base, 'work');
      await mkdir(upper);
      await mkdir(work);
      const target = path.join(base, 'rootfs');
      const lower =
        ref.kind === 'snapshot'
          ? store.snapshots.chain(ref.id).map((s) => s.dir)
          : [ref.kind === 'local' ? ref.root : await fresh()];
      // Upper/work live outside the snapshots folder, so use absolute paths (relative to "/").
      track(
        await mountOverlay({
          snapshotsDir: '/',
          lower: lower.map((d) => path.relative('/', d)),
          upper: path.relative('/', upper),
          work: path.relative('/', work),
          target,
        }),
      );
      return target;
    },
  };
}
