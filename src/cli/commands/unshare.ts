/**
 * `tbuild unshare [COMMAND…]` (buildah unshare): run a command in the user namespace
 * rootless builds use, e.g. `tbuild unshare rm -rf ~/.local/share/tbuild` to remove a
 * store holding files of subordinate ids. As root it just runs the command.
 */
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../../shared/errors.ts';

interface UnshareArgs {
  command: string[] | undefined;
  '--': string[] | undefined;
}

/**
 * `tbuild unshare …` is run before yargs (main.ts): a command's own flags (`rm -rf`) are
 * not tbuild's. Yargs sees it only for help.
 */
export function unshareWords(argv: readonly string[]): string[] | undefined {
  if (argv[0] !== 'unshare' || argv[1] === '--help' || argv[1] === '-h') return undefined;
  return argv.slice(argv[1] === '--' ? 2 : 1);
}

/**
 * Run `words` (default: $SHELL) with this process's stdio; resolves with its exit status.
 * SIGTERM, SIGINT and SIGHUP sent to tbuild go on to the command (the rootless parent
 * forwards them here), so a killed `tbuild unshare CMD` does not leave CMD running.
 */
export function runUnshare(words: readonly string[]): Promise<number> {
  const [command, ...args] = words.length > 0 ? words : [process.env.SHELL || '/bin/sh'];
  return new Promise((resolve, reject) => {
    const child = spawn(command!, args, { stdio: 'inherit' });
    const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
    const forward = (signal: NodeJS.Signals) => void child.kill(signal);
    for (const signal of signals) process.on(signal, forward);
    child.on('close', () => {
      for (const signal of signals) process.off(signal, forward);
    });
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new UsageError(`unshare: command not found: ${command}`, {
              hint: 'Give a command on PATH, e.g. `tbuild unshare rm -rf DIR`.',
              exitCode: 127,
            })
          : err,
      ),
    );
    child.on('close', (code, signal) =>
      resolve(code ?? (signal ? 128 + (osConstants.signals[signal] ?? 15) : 1)),
    );
  });
}

export const command: CommandModule<object, UnshareArgs> = {
  command: 'unshare [command..]',
  describe: "Run a command in rootless builds' user namespace (e.g. to remove the store)",
  builder: (yargs: Argv<object>): Argv<UnshareArgs> =>
    yargs.positional('command', {
      type: 'string',
      array: true,
      describe: 'Command and arguments (default: $SHELL)',
    }) as unknown as Argv<UnshareArgs>,
  handler: async (argv) => {
    process.exitCode = await runUnshare([...(argv.command ?? []), ...(argv['--'] ?? [])]);
  },
};
