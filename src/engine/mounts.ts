/**
 * Mount points for ops: read-only views of a Ref and writable overlays whose upper dir is
 * a new snapshot. Every mount lives under `<store>/mounts/<pid>-<random>/`, so a crashed
 * build's mounts are found and removed by the next start; every path out of an op
 * releases what it mounted.
 */
import { rmSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { SnapshotInfo, Store } from '../cache/types.ts';
import type { Mount, OverlayMountOptions } from '../exec/overlay.ts';
import { snapshotChain } from './store-check.ts';
import type { Ref } from './types.ts';
import { lazyModule } from '../shared/lazy-module.ts';

const loadSpecialFiles = lazyModule(() => import('../exporter/special-files.ts'));
const loadOverlay = lazyModule(() => import('../exec/overlay.ts'));

export interface Scope {
  /** Release everything acquired through this scope, last first. Never throws twice. */
  close(): Promise<void>;
  /** A fresh empty directory (for scratch mounts, temp files); removed on close. */
  tempDir(): Promise<string>;
  /** Read-only view of `ref` at a fresh mount point; returns its host path. */
  mountReadOnly(ref: Ref): Promise<string>;
  /**
   * Writable view of `ref` whose writes become a new (uncommitted) snapshot. `seed` fills
   * the snapshot's directory before it is mounted (an incremental COPY's clone).
   */
  mountWritable(
    ref: Ref,
    description: string,
    seed?: (snapshot: SnapshotInfo) => Promise<void>,
  ): Promise<{
    path: string;
    snapshot: SnapshotInfo;
    unmount(): Promise<void>;
    /** The snapshot's directory is final once the writers are done (exec/overlay.ts). */
    inPlace: boolean;
  }>;
  /** Writable view of `ref` whose writes are thrown away (RUN --mount=type=bind,rw). */
  mountScratchWritable(ref: Ref): Promise<string>;
  /** Run `cleanup` on close, before what was acquired earlier is released. */
  onClose(cleanup: () => Promise<void>): void;
}

/**
 * Make `hide` a layer that, above the context directory `root`, hides the `excluded`
 * paths with overlay whiteouts. Directories made on the way copy the context's mode,
 * owner and times: in the merged view a directory's attributes come from the top layer.
 */
async function hideExcluded(
  hide: string,
  root: string,
  excluded: readonly string[],
): Promise<void> {
  const dirs = new Set<string>();
  for (const rel of excluded) {
    for (let i = rel.indexOf('/'); i !== -1; i = rel.indexOf('/', i + 1)) dirs.add(rel.slice(0, i));
  }
  const sorted = [...dirs].sort();
  for (const dir of sorted) await mkdir(path.join(hide, dir));
  // Loaded here: whiteouts are needed only for a bind mount of a context with exclusions.
  const { makeWhiteouts } = await loadSpecialFiles();
  await makeWhiteouts(excluded.map((rel) => path.join(hide, rel)));
  // Deepest first: making an entry changes its parent's times.
  for (const dir of sorted.reverse()) {
    const st = await lstat(path.join(root, dir));
    const made = path.join(hide, dir);
    await chown(made, st.uid, st.gid);
    await chmod(made, st.mode & 0o7777);
    await utimes(made, st.atime, st.mtime);
  }
}

/** exec/overlay is loaded on the first mount: cached builds mount nothing. */
async function mountOverlay(options: OverlayMountOptions): Promise<Mount> {
  return (await loadOverlay()).mountOverlay(options);
}

/** Open a mount scope for one op. */
export function openScope(store: Store): Scope {
  const cleanups: Array<() => Promise<void>> = [];
  let counter = 0;
  const fresh = async (): Promise<string> => {
    const dir = await store.mountDir(`op${counter++}`);
    // An emptied mount point, or a few small files: removed synchronously, which takes
    // microseconds where each async step is a thread-pool round trip (ADR 20).
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  };
  // Missing snapshot directories are restored from their layer blobs (or named in an error).
  const lowerOf = async (ref: Ref): Promise<string[]> =>
    ref.kind === 'snapshot'
      ? (await snapshotChain(store, ref.id)).map((s) => path.relative(store.snapshots.dir, s.dir))
      : [];
  const track = (mount: Mount): void => {
    cleanups.push(() => mount.unmount());
  };
  /** Layers that show the context as the build sees it: .dockerignore'd entries hidden. */
  const contextLayers = async (ref: Extract<Ref, { kind: 'local' }>): Promise<string[]> => {
    const { excluded } = await ref.context.snapshot();
    if (excluded.length === 0) return [ref.root];
    const hide = await fresh();
    await hideExcluded(hide, ref.root, excluded);
    return [hide, ref.root];
  };

  return {
    tempDir: fresh,
    onClose: (cleanup) => void cleanups.push(cleanup),
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
      if (ref.kind === 'local') {
        const layers = await contextLayers(ref);
        if (layers.length === 1) return ref.root;
        const target = path.join(await fresh(), 'rootfs');
        const lower = layers.map((d) => path.relative('/', d));
        track(await mountOverlay({ snapshotsDir: '/', lower, target }));
        return target;
      }
      if (ref.kind === 'empty') return fresh();
      const target = path.join(await fresh(), 'rootfs');
      track(
        await mountOverlay({
          snapshotsDir: store.snapshots.dir,
          lower: await lowerOf(ref),
          target,
        }),
      );
      return target;
    },
    async mountWritable(ref, description, seed) {
      if (ref.kind === 'local')
        throw new Error('internal: a local context cannot be a writable base');
      const parent = ref.kind === 'snapshot' ? ref.id : null;
      const snapshot = await store.snapshots.create(parent, description);
      if (seed) {
        try {
          await seed(snapshot);
        } catch (error) {
          await store.snapshots.remove(snapshot.id);
          throw error;
        }
      }
      const target = path.join(await fresh(), 'rootfs');
      const mount = await mountOverlay({
        snapshotsDir: store.snapshots.dir,
        lower: await lowerOf(ref),
        upper: path.relative(store.snapshots.dir, snapshot.dir),
        work: path.relative(store.snapshots.dir, snapshot.workDir),
        target,
      });
      track(mount);
      return {
        path: target,
        snapshot,
        unmount: () => mount.unmount(),
        inPlace: mount.inPlace === true,
      };
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
          ? (await snapshotChain(store, ref.id)).map((s) => s.dir)
          : ref.kind === 'local'
            ? await contextLayers(ref)
            : [await fresh()];
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
