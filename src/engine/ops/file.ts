/**
 * COPY, ADD, WORKDIR and heredoc files: a file op writes through a writable overlay of
 * its base, so whiteouts, symlinks and parent permissions behave as in the image. A file
 * op on an empty base writes straight into the new snapshot's directory.
 *
 * A COPY of a context directory that ran before onto the same parent, and missed only
 * because files changed, starts from its previous layer and copies only what changed
 * (file/incremental.ts, ADR 0018).
 */
import { lutimes } from 'node:fs/promises';
import path from 'node:path';
import type { CopyAction, FileOp } from '../../llb/types.ts';
import type { LookUpPreviousRun, OpContext } from '../../solver/types.ts';
import type { ContextSnapshot } from '../context/types.ts';
import { applyFileActions, type SourceRoot } from '../file/actions.ts';
import { cleanPath } from '../file/paths.ts';
import {
  canCopyIncrementally,
  planIncrementalCopy,
  cloneLayer,
  discardClone,
  seedFromPrevious,
  type IncrementalPlan,
} from '../file/incremental.ts';
import { openScope, type Scope } from '../mounts.ts';
import { writeNewSnapshot } from './new-snapshot.ts';
import type { EngineOptions, Ref } from '../types.ts';
import { lazyModule } from '../../shared/lazy-module.ts';

const loadSnapshotter = lazyModule(() => import('../../exec/snapshotter.ts'));
const loadLayerWriter = lazyModule(() => import('../../exporter/layer-writer.ts'));

export async function runFileOp(
  engine: EngineOptions,
  op: FileOp,
  inputs: readonly Ref[],
  ctx: OpContext,
  description: string,
  previous?: LookUpPreviousRun<Ref>,
): Promise<Ref[]> {
  const base: Ref = op.base === null ? { kind: 'empty' } : inputs[op.base]!;
  const incremental = previous && (await incrementalPlan(engine, op, base, inputs, previous));
  const imageLayer = engine.isImageLayer?.(ctx.digest) === true;
  // The export hashes the layer once it is committed: have its worker ready by then,
  // found out beside the copy rather than before it.
  if (imageLayer)
    void (incremental ? Promise.resolve(true) : copiesLargeContext(op, inputs))
      .then(async (large) => large && (await loadLayerWriter()).warmLayerHasher())
      .catch(() => undefined);
  const used = new Set(
    op.actions.flatMap((a) => (a.action === 'copy' && a.source !== null ? [a.source] : [])),
  );
  return writeNewSnapshot(
    engine,
    base,
    description,
    async ({ path: root, scope }) => {
      const sources: Array<SourceRoot | null> = [];
      for (let i = 0; i < inputs.length; i++)
        sources.push(used.has(i) ? await sourceRoot(scope, inputs[i]!, ctx.signal) : null);
      if (incremental) {
        const { visit } = incremental.plan;
        for (const [i, source] of sources.entries()) {
          if (!source) continue;
          const visible = source.visible;
          sources[i] = { ...source, visible: (rel) => visit.has(rel) && (visible?.(rel) ?? true) };
        }
      }
      await applyFileActions(
        { dest: root, tempDir: scope.tempDir, signal: ctx.signal },
        sources,
        op.actions,
        scope.tempDir,
      );
      if (incremental) await touchDestination(root, incremental.plan);
    },
    {
      direct: true,
      imageLayer,
      ...(incremental && {
        seed: (snapshot) =>
          seedFromPrevious(incremental.clone, incremental.previous, snapshot.dir, incremental.plan),
      }),
    },
  );
}

/**
 * The plan for an incremental COPY (one copy of a context directory, last time's result
 * on the same parent still stored), or undefined for a full one.
 */
async function incrementalPlan(
  engine: EngineOptions,
  op: FileOp,
  base: Ref,
  inputs: readonly Ref[],
  lookUpPrevious: LookUpPreviousRun<Ref>,
): Promise<{ plan: IncrementalPlan; clone: Promise<string>; previous: string } | undefined> {
  const action = op.actions.length === 1 ? op.actions[0] : undefined;
  if (action?.action !== 'copy' || !canCopyIncrementally(action)) return undefined;
  const source = inputs[action.source!];
  if (source?.kind !== 'local') return undefined;
  // Planning costs a mount and two listings (~0.1 s): worth it only for a large copy. A
  // small one does not even look the previous run up (the records of the changed files).
  const snapshot = await source.context.snapshot();
  if (!isLargeCopy(snapshot, action.src)) return undefined;
  const previous = await lookUpPrevious();
  const change = previous?.changes[action.source!];
  const last = previous?.results[0];
  if (!change || last?.kind !== 'snapshot') return undefined;
  const info = engine.store.snapshots.get(last.id);
  const parent = base.kind === 'snapshot' ? base.id : null;
  if (!info?.committed || info.parent !== parent) return undefined;
  const clone = engine.store.tempDir('clone').then((dir) => cloneLayer(info.dir, dir));
  clone.catch(() => undefined); // the seed reports it
  const scope = openScope(engine.store);
  let plan: IncrementalPlan | undefined;
  try {
    const baseRoot = await scope.mountReadOnly(base);
    // The copying snapshotter (ADR 17) mounts the lower layers only: no upper to start from.
    if (base.kind !== 'empty') {
      const { knownSnapshotter, selectSnapshotter } = await loadSnapshotter();
      const name = knownSnapshotter() ?? (await selectSnapshotter(path.dirname(baseRoot))).name;
      if (name === 'copy') return undefined;
    }
    plan = await planIncrementalCopy({
      action: action as CopyAction,
      contextRoot: source.root,
      snapshot,
      change,
      baseRoot,
      previous: info.dir,
    });
    return plan && { plan, clone, previous: info.dir };
  } finally {
    if (!plan) discardClone(clone);
    await scope.close();
  }
}

/** Whether the op copies a large directory of a local context (isLargeCopy). */
async function copiesLargeContext(op: FileOp, inputs: readonly Ref[]): Promise<boolean> {
  for (const action of op.actions) {
    if (action.action !== 'copy' || action.source === null) continue;
    const source = inputs[action.source];
    if (source?.kind === 'local' && isLargeCopy(await source.context.snapshot(), action.src))
      return true;
  }
  return false;
}

/** Entries or bytes from which a COPY is made incrementally: below, a full copy is quicker. */
const LARGE_COPY_ENTRIES = 500;
const LARGE_COPY_BYTES = 32 * 1024 * 1024;

/** Whether the context's entries under `src` are many, or their files' bytes many. */
function isLargeCopy(snapshot: ContextSnapshot, src: string): boolean {
  const dir = cleanPath(src).slice(1);
  if (dir === '' && snapshot.files.size >= LARGE_COPY_ENTRIES) return true;
  let entries = 0;
  let bytes = 0;
  for (const [name, file] of snapshot.files) {
    if (dir !== '' && name !== dir && !name.startsWith(dir + '/')) continue;
    if (++entries >= LARGE_COPY_ENTRIES) return true;
    if (file.type === 'file' && (bytes += file.size) >= LARGE_COPY_BYTES) return true;
  }
  return false;
}

/** The directories above the copied tree get the times a full COPY leaves them. */
async function touchDestination(root: string, plan: IncrementalPlan): Promise<void> {
  const now = new Date();
  for (const { rel, mtime } of plan.times)
    await lutimes(path.join(root, rel), mtime ?? now, mtime ?? now);
}

async function sourceRoot(scope: Scope, ref: Ref, signal: AbortSignal): Promise<SourceRoot | null> {
  if (ref.kind === 'empty') return null;
  if (ref.kind === 'local') {
    const { files } = await ref.context.snapshot(signal);
    // Build-context files are root-owned in images, whatever owns them on the host.
    return {
      root: ref.root,
      owner: { uid: 0, gid: 0 },
      visible: (rel) => rel === '' || files.has(rel),
    };
  }
  return { root: await scope.mountReadOnly(ref) };
}
