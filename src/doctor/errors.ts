/** The host lacks something a build needs. */
import { TbuildError } from '../shared/errors.ts';

export class MissingDependenciesError extends TbuildError {
  constructor(message: string, hint: string) {
    super('TBUILD_MISSING_DEPENDENCIES', message, { hint });
  }
}
