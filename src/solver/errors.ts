/** Errors the solver raises. Op failures are wrapped so they name the failing step. */
import type { Digest } from '../shared/digest.ts';
import { TbuildError, isTbuildError } from '../shared/errors.ts';
import type { SourceLocation } from '../shared/errors.ts';

/** The code a step failure carries when the op threw something that is not a TbuildError. */
export const STEP_FAILED = 'TBUILD_STEP_FAILED';

/**
 * A step of the graph failed. Keeps the op's own code, hint and exit code, prefixes the
 * message with the step's description, and points at the step's Dockerfile lines when the
 * op's error did not point anywhere itself.
 */
export class VertexError extends TbuildError {
  readonly vertex: Digest;
  readonly description: string;

  constructor(vertex: Digest, description: string, cause: unknown, location?: SourceLocation) {
    const inner = isTbuildError(cause) ? cause : undefined;
    const message = cause instanceof Error ? cause.message : String(cause);
    super(inner?.code ?? STEP_FAILED, `${description}: ${message}`, {
      hint: inner?.hint,
      location: inner?.location ?? location,
      exitCode: inner?.exitCode,
      cause,
    });
    this.vertex = vertex;
    this.description = description;
  }
}

/** The definition references a vertex it does not contain (a frontend bug). */
export class MissingVertexError extends TbuildError {
  constructor(digest: Digest, referencedBy: string) {
    super(
      'TBUILD_SOLVE_MISSING_VERTEX',
      `the build graph references vertex ${digest} (from ${referencedBy}) but does not define it`,
      { hint: 'This is a bug in the frontend that produced the graph; please report it.' },
    );
  }
}

/** The definition contains a cycle, which content addressing should make impossible. */
export class GraphCycleError extends TbuildError {
  constructor(digest: Digest) {
    super('TBUILD_SOLVE_CYCLE', `the build graph has a cycle through vertex ${digest}`, {
      hint: 'This is a bug in the frontend that produced the graph; please report it.',
    });
  }
}

/** An op asked for an output its input vertex does not have. */
export class MissingOutputError extends TbuildError {
  constructor(digest: Digest, output: number, count: number) {
    super(
      'TBUILD_SOLVE_MISSING_OUTPUT',
      `vertex ${digest} produced ${count} output(s) but output ${output} was requested`,
      { hint: 'This is a bug in the op that produced the vertex; please report it.' },
    );
  }
}
