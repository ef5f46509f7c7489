import { TbuildError, type TbuildErrorOptions } from '../shared/errors.ts';

/** A RUN step's process exited non-zero. */
export class RunFailedError extends TbuildError {
  readonly exitStatus: number;
  constructor(args: string[], exitStatus: number, options: TbuildErrorOptions = {}) {
    super(
      'TBUILD_RUN_FAILED',
      `process "${shortCommand(args.join(' '))}" did not complete successfully: exit code: ${exitStatus}`,
      {
        hint: 'Read the step output above; the command itself failed inside the container.',
        ...options,
      },
    );
    this.exitStatus = exitStatus;
  }
}

/** A command line for a message: a RUN can span 150,000 lines; show its start. */
function shortCommand(text: string): string {
  const max = 4000;
  return text.length <= max
    ? text
    : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** An op the engine cannot run here. */
export class UnsupportedOpError extends TbuildError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_UNSUPPORTED', message, options);
  }
}

/** A secret named by RUN --mount=type=secret was not given with --secret. */
export class SecretNotFoundError extends TbuildError {
  constructor(id: string) {
    super('TBUILD_SECRET_NOT_FOUND', `secret ${id} not found`, {
      hint: `Pass it with --secret id=${id},src=<file> (or env=<VAR>), or mark the mount required=false.`,
    });
  }
}

export class SshAgentNotFoundError extends TbuildError {
  constructor(id: string) {
    super('TBUILD_SSH_AGENT_NOT_FOUND', `no SSH agent given for ssh mount "${id}"`, {
      hint:
        id === 'default'
          ? 'Pass your agent with --ssh default (it uses $SSH_AUTH_SOCK), or mark the mount required=false.'
          : `Pass an agent socket with --ssh ${id}=<socket>, or mark the mount required=false.`,
    });
  }
}

/** A source (URL, git repository) could not be fetched. */
export class SourceFetchError extends TbuildError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_SOURCE_FETCH', message, options);
  }
}
