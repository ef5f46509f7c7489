/**
 * Errors the Dockerfile frontend raises: each names the instruction or flag, points at
 * the Dockerfile lines and ends with a hint (a "did you mean" when one is close).
 */
import { TbuildError } from '../shared/errors.ts';
import type { SourceLocation, TbuildErrorOptions } from '../shared/errors.ts';

export type { SourceLocation };

/** Base class of every error about the Dockerfile's content. */
export class DockerfileError extends TbuildError {}

/** An instruction name Dockerfiles do not have. */
export class UnknownInstructionError extends DockerfileError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_UNKNOWN_INSTRUCTION', message, options);
  }
}

/** A `--flag` the instruction does not accept. */
export class UnknownFlagError extends DockerfileError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_UNKNOWN_FLAG', message, options);
  }
}

/** Wrong arguments or flag values for an instruction. */
export class InvalidInstructionError extends DockerfileError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_INVALID_INSTRUCTION', message, options);
  }
}

/** A RUN asks for what the build was not allowed (`--allow network.host`, …). */
export class EntitlementError extends DockerfileError {
  readonly entitlement: string;
  constructor(entitlement: string, message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_ENTITLEMENT', message, options);
    this.entitlement = entitlement;
  }
}

/** `--target` names no stage. */
export class UnknownTargetError extends DockerfileError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_UNKNOWN_TARGET', message, options);
  }
}

/** A stage refers to a stage that does not exist (by index) or to itself. */
export class InvalidStageReferenceError extends DockerfileError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_INVALID_STAGE_REFERENCE', message, options);
  }
}

/** The engine could not find a base image's configuration. */
export class BaseImageNotFoundError extends DockerfileError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_BASE_IMAGE_NOT_FOUND', message, options);
  }
}

/** A `# check=` directive or BUILDKIT_DOCKERFILE_CHECK value BuildKit would refuse. */
export class InvalidCheckOptionsError extends DockerfileError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_INVALID_CHECK_OPTIONS', message, {
      hint: 'Write `# check=skip=<Rule>[,<Rule>…];error=true` (skip=all skips every rule).',
      ...options,
    });
  }
}

/** Build checks reported warnings and `# check=error=true` makes them fail the build. */
export class LintViolationError extends DockerfileError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_LINT_VIOLATION', message, options);
  }
}

/** Format a "did you mean" sentence, or a fallback hint when nothing is close. */
export function didYouMean(suggestion: string | undefined, fallback: string): string {
  return suggestion ? `Did you mean "${suggestion}"?` : fallback;
}
