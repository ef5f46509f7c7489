/** Errors of the Action itself (inputs, runner setup); build errors are the builder's. */
import { TbuildError, type TbuildErrorOptions } from '../shared/errors.ts';

/** An input's value is wrong, or asks for something tbuild does not do yet. */
export class InputError extends TbuildError {
  readonly input: string;
  constructor(input: string, message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_ACTION_INPUT', `input "${input}": ${message}`, options);
    this.input = input;
  }
}

/** The runner cannot give the build what it needs (root, packages). */
export class RunnerSetupError extends TbuildError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_ACTION_SETUP', message, options);
  }
}
