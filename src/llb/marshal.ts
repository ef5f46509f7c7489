/**
 * Turns a State into a Definition: plain data, vertices in topological order (inputs
 * first), equal vertices stored once under their digest.
 */
import type { GraphNode, State } from './state.ts';
import type { Definition, Digest, Vertex, VertexMetadata } from './types.ts';

/**
 * Marshal the graph that produces `state`. `metadata` fields (e.g. `ignoreCache` for
 * --no-cache) are added to every vertex's metadata.
 */
export function marshal(state: State, metadata: Partial<VertexMetadata> = {}): Definition {
  const vertices: Record<Digest, Vertex> = {};
  const meta: Record<Digest, VertexMetadata> = {};
  const visit = (node: GraphNode): void => {
    if (node.digest in vertices) return;
    // Iterative post-order would avoid deep recursion, but Dockerfile graphs are shallow.
    for (const input of node.inputs) visit(input);
    if (node.digest in vertices) return;
    vertices[node.digest] = node.vertex;
    meta[node.digest] = { description: '', ...node.metadata, ...metadata };
  };
  if (state.node) visit(state.node);
  return { vertices, metadata: meta, root: state.input };
}

/** Check that every input of every vertex appears before it; returns the offending digests. */
export function findOrderViolations(definition: Definition): Digest[] {
  const seen = new Set<string>();
  const bad: Digest[] = [];
  for (const [digest, vertex] of Object.entries(definition.vertices) as [Digest, Vertex][]) {
    if (vertex.inputs.some((i) => !seen.has(i.digest))) bad.push(digest);
    seen.add(digest);
  }
  return bad;
}
