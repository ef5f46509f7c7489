/**
 * The parser's one error type. Every syntax problem in a Dockerfile becomes a
 * DockerfileParseError that names the line range and says how to fix it.
 */
import { TbuildError } from '../shared/errors.ts';
import type { LineRange } from '../shared/errors.ts';

export const DOCKERFILE_PARSE_ERROR_CODE = 'TBUILD_DOCKERFILE_PARSE';

export interface DockerfileParseErrorOptions {
  /** 1-based, inclusive lines the error is about. */
  range: LineRange;
  /** One sentence that tells the user how to fix it. */
  hint: string;
  /** The Dockerfile's path, for messages. */
  file?: string;
}

/** A Dockerfile that BuildKit's parser would reject, with the offending lines. */
export class DockerfileParseError extends TbuildError {
  // Narrowed from TbuildError: a parse error always has a range and a hint.
  declare readonly location: { file?: string; range: LineRange };
  declare readonly hint: string;

  constructor(message: string, options: DockerfileParseErrorOptions) {
    const location =
      options.file === undefined
        ? { range: options.range }
        : { file: options.file, range: options.range };
    super(DOCKERFILE_PARSE_ERROR_CODE, message, { hint: options.hint, location });
  }
}

/** True for errors raised by parseDockerfile. */
export function isDockerfileParseError(err: unknown): err is DockerfileParseError {
  return err instanceof DockerfileParseError;
}

/**
 * Raised by the per-line parsers, which do not know where the line sits in the file;
 * parseDockerfile turns it into a DockerfileParseError with the instruction's range.
 * Internal: never escapes parseDockerfile.
 */
export class LineSyntaxError extends Error {
  readonly hint: string;

  constructor(message: string, hint: string) {
    super(message);
    this.name = 'LineSyntaxError';
    this.hint = hint;
  }
}
