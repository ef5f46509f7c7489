/** Graph checks done once per solve, before anything runs. */
import type { Definition, Digest } from '../llb/types.ts';
import { GraphCycleError, MissingVertexError } from './errors.ts';

/**
 * The vertices reachable from the definition's root, inputs first. The frontend already
 * prunes unused stages, but a hand-made or stale definition may carry extra vertices:
 * those are never considered. Throws on dangling references and cycles, which would
 * otherwise hang the solve.
 */
export function findReachable(definition: Definition): Digest[] {
  const order: Digest[] = [];
  if (definition.root === null) return order;
  const state = new Map<Digest, 'visiting' | 'done'>();
  // Iterative DFS: long Dockerfiles make deep chains, and recursion depth is finite.
  const stack: Array<{ digest: Digest; next: number; from: string }> = [
    { digest: definition.root.digest, next: 0, from: 'the root' },
  ];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    const vertex = definition.vertices[frame.digest];
    if (vertex === undefined) throw new MissingVertexError(frame.digest, frame.from);
    if (frame.next === 0) {
      if (state.get(frame.digest) === 'done') {
        stack.pop();
        continue;
      }
      state.set(frame.digest, 'visiting');
    }
    const input = vertex.inputs[frame.next];
    if (input === undefined) {
      state.set(frame.digest, 'done');
      order.push(frame.digest);
      stack.pop();
      continue;
    }
    frame.next++;
    const seen = state.get(input.digest);
    if (seen === 'visiting') throw new GraphCycleError(input.digest);
    if (seen === undefined) stack.push({ digest: input.digest, next: 0, from: frame.digest });
  }
  return order;
}
