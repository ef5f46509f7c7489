/**
 * tbuild's command line. Thin: each command lives in src/cli/commands/<name>.ts and
 * lazy-loads the modules it needs, so that `tbuild --help` or a no-op rebuild starts fast.
 */
import yargs from 'yargs';
import type { CommandModule } from 'yargs';
import { CliUsageFailure, formatError } from './errors.ts';

/** Each command module exports `command`, a yargs CommandModule with its own argument type. */
type Loader = () => Promise<{ command: unknown }>;

/** Commands, loaded only when named (yargs needs their builders, so they are small). */
const commands: Record<string, Loader> = {
  build: () => import('./commands/build.ts'),
  parse: () => import('./commands/parse.ts'),
  images: () => import('./commands/images.ts'),
  tag: () => import('./commands/tag.ts'),
  rm: () => import('./commands/rm.ts'),
  prune: () => import('./commands/prune.ts'),
  du: () => import('./commands/du.ts'),
  import: () => import('./commands/import.ts'),
  login: () => import('./commands/login.ts'),
  logout: () => import('./commands/logout.ts'),
  pull: () => import('./commands/pull.ts'),
  push: () => import('./commands/push.ts'),
  save: () => import('./commands/save.ts'),
  load: () => import('./commands/load.ts'),
  inspect: () => import('./commands/inspect.ts'),
  history: () => import('./commands/history.ts'),
};

export async function main(argv: string[]): Promise<number> {
  const modules = await Promise.all(Object.values(commands).map((load) => load()));
  let exitCode = 0;
  const cli = yargs(argv)
    .scriptName('tbuild')
    // docker flags such as --no-cache are names of their own, not negations of --cache.
    .parserConfiguration({ 'boolean-negation': false })
    .strict()
    .demandCommand(1, 'Name a command, e.g. `tbuild build .` (see --help).')
    .recommendCommands()
    .help()
    .version()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((message, error) => {
      throw error ?? new CliUsageFailure(message);
    });
  for (const mod of modules) cli.command(mod.command as CommandModule);
  try {
    await cli.parseAsync();
  } catch (error) {
    const { text, code } = formatError(error);
    process.stderr.write(text + '\n');
    exitCode = code;
  }
  return exitCode;
}
