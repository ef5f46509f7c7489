/**
 * `tbuild watch [build flags] [context] [-- CMD…]`: build, then rebuild whenever a file
 * the build reads changes (the same as `tbuild build --watch`).
 */
import type { Argv, CommandModule } from 'yargs';
import { withProcessIO } from '../io.ts';
import {
  BUILD_OPTIONS,
  toBuildFlags,
  toWatchFlags,
  WATCH_OPTIONS,
  type BuildArgs,
} from './build.ts';

export const command: CommandModule<object, BuildArgs> = {
  command: 'watch [context]',
  describe: 'Build, then rebuild whenever the context or the Dockerfile changes',
  builder: (yargs: Argv) =>
    yargs
      .positional('context', { type: 'string', describe: 'Build context directory', default: '.' })
      .options({ ...BUILD_OPTIONS, ...WATCH_OPTIONS })
      .example('$0 watch -t app .', 'rebuild app on every change')
      .example(
        '$0 watch --run -t app . -- node server.js',
        'and restart it each time',
      ) as unknown as Argv<BuildArgs>,
  handler: (args) =>
    withProcessIO(async (io) => {
      const { runWatchCli } = await import('../watch/run.ts');
      await runWatchCli(toBuildFlags(args), toWatchFlags(args), io);
    }),
};
