import { TbuildError } from '../../shared/errors.ts';
import type { TbuildErrorOptions } from '../../shared/errors.ts';

/** The context path given on the command line is missing or not a directory. */
export class ContextNotFoundError extends TbuildError {
  constructor(root: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_CONTEXT_NOT_FOUND', `build context ${root} is not a directory`, {
      hint: 'Pass an existing directory as the build context (the last argument, e.g. `tbuild .`).',
      ...options,
    });
  }
}

/** A file or directory inside the context could not be read. */
export class ContextReadError extends TbuildError {
  readonly path: string;
  constructor(path: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super('TBUILD_CONTEXT_READ', `cannot read ${path} in the build context: ${reason}`, {
      hint: 'Fix its permissions, or add it to .dockerignore if the build does not need it.',
      cause,
    });
    this.path = path;
  }
}
