import { TbuildError, type TbuildErrorOptions } from '../../shared/errors.ts';

/** A COPY/ADD/WORKDIR file operation could not be applied. */
export class FileOpError extends TbuildError {
  constructor(code: string, message: string, options: TbuildErrorOptions = {}) {
    super(code, message, options);
  }
}

export function sourceNotFound(src: string): FileOpError {
  return new FileOpError('TBUILD_COPY_SOURCE_NOT_FOUND', `"${src}": not found`, {
    hint: 'Check the path is inside the build context (or the --from stage) and not excluded by .dockerignore.',
  });
}
