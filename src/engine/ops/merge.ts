/**
 * Merge (COPY --link): later inputs are layered over the first. Each later input's
 * files are copied through a writable overlay of the first, so they replace what is
 * there, as stacking the layers would.
 */
import type { OpContext } from '../../solver/types.ts';
import { copyTree } from '../copy-tree.ts';
import { writeNewSnapshot } from './new-snapshot.ts';
import type { EngineOptions, Ref } from '../types.ts';

export async function runMergeOp(
  engine: EngineOptions,
  inputs: readonly Ref[],
  ctx: OpContext,
  description: string,
): Promise<Ref[]> {
  const [first = { kind: 'empty' } as Ref, ...rest] = inputs;
  return writeNewSnapshot(engine, first, description, async ({ path, scope }) => {
    for (const ref of rest) {
      ctx.signal.throwIfAborted();
      if (ref.kind === 'empty') continue;
      await copyTree(await scope.mountReadOnly(ref), path, ctx.signal);
    }
  });
}
