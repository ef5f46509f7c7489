/**
 * Merge (COPY --link): later inputs are layered over the first. Each later input's
 * files are copied through a writable overlay of the first, so they replace what is
 * there, as stacking the layers would.
 */
import type { OpContext } from '../../solver/types.ts';
import { copyTree } from '../copy-tree.ts';
import { openScope } from '../mounts.ts';
import type { EngineOptions, Ref } from '../types.ts';

export async function runMergeOp(
  engine: EngineOptions,
  inputs: readonly Ref[],
  ctx: OpContext,
  description: string,
): Promise<Ref[]> {
  const [first = { kind: 'empty' } as Ref, ...rest] = inputs;
  const scope = openScope(engine.store);
  let snapshotId: number | undefined;
  try {
    const target = await scope.mountWritable(first, description);
    snapshotId = target.snapshot.id;
    for (const ref of rest) {
      ctx.signal.throwIfAborted();
      if (ref.kind === 'empty') continue;
      const src = await scope.mountReadOnly(ref);
      await copyTree(src, target.path, ctx.signal);
    }
    await target.unmount();
    await scope.close();
    const committed = await engine.store.snapshots.commit(snapshotId);
    snapshotId = undefined;
    return [{ kind: 'snapshot', id: committed.id }];
  } finally {
    await scope.close();
    if (snapshotId !== undefined) await engine.store.snapshots.remove(snapshotId);
  }
}
