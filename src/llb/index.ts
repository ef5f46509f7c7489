/** The LLB module: graph types, the immutable builder and marshalling. */
export type * from './types.ts';
export { State, ExecState, vertexDigest } from './state.ts';
export type { FileActionSpec, GraphNode, RunMount, RunSpec, VertexOptions } from './state.ts';
export { scratch, image, local, http, git, merge } from './sources.ts';
export { marshal, findOrderViolations } from './marshal.ts';
