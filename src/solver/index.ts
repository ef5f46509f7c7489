/** The solver: schedules an LLB graph's ops concurrently against a result cache. */
export type * from './types.ts';
export { createSolver, solve } from './solver.ts';
export {
  GraphCycleError,
  MissingOutputError,
  MissingVertexError,
  STEP_FAILED,
  VertexError,
} from './errors.ts';
export { explainMiss } from './explain.ts';
export type { MissFacts } from './explain.ts';
