/** The solver's entry points: a long-lived `createSolver()` and a one-shot `solve()`. */
import { availableParallelism } from 'node:os';
import pLimit from 'p-limit';
import type { Definition } from '../llb/types.ts';
import { FlightRegistry } from './flights.ts';
import { SolveSession } from './session.ts';
import type { SolveOptions, SolveResult, Solver, SolverOptions, Worker } from './types.ts';

/**
 * A solver for a long-lived process (watch mode, a server): its solves may run
 * concurrently and share in-flight work, so a step two builds both need runs once.
 */
export function createSolver(solverOptions: SolverOptions = {}): Solver {
  const flights = new FlightRegistry();
  const sharedLimit =
    solverOptions.parallelism === undefined ? undefined : pLimit(solverOptions.parallelism);
  return {
    solve<R>(definition: Definition, worker: Worker<R>, options: SolveOptions = {}) {
      const limit = pLimit(options.parallelism ?? availableParallelism());
      const session = new SolveSession(definition, worker, options, {
        flights,
        limit,
        sharedLimit,
      });
      return session.run();
    },
  };
}

/**
 * Solve `definition` once: compute every reachable vertex's cache key, then produce the
 * root's result, taking what it can from `worker.cache` and running the rest with at most
 * `options.parallelism` ops at a time. Rejects with the first step failure (a VertexError
 * naming the step) or a CancelledError when `options.signal` aborts, after every running
 * op has settled.
 */
export async function solve<R>(
  definition: Definition,
  worker: Worker<R>,
  options?: SolveOptions,
): Promise<SolveResult<R>> {
  return await createSolver().solve(definition, worker, options);
}
