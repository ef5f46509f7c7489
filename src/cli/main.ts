/**
 * tbuild's command line. Thin: each command lives in src/cli/commands/<name>.ts and
 * lazy-loads the modules it needs, so that `tbuild --help` or a no-op rebuild starts fast.
 */
import type { CommandModule } from 'yargs';
import { CliUsageFailure, formatError } from './errors.ts';

/** Each command module exports `command`, a yargs CommandModule with its own argument type. */
type Loader = () => Promise<{ command: unknown }>;

/** Commands, loaded only when named (yargs needs their builders, so they are small). */
const commands: Record<string, Loader> = {
  build: () => import('./commands/build.ts'),
  watch: () => import('./commands/watch.ts'),
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

const ALIASES: Record<string, string> = { rmi: 'rm' };

/**
 * The command modules this invocation needs: just the named one (or build, the default
 * command), all of them only for top-level help and version. Loading fewer keeps a no-op
 * rebuild's start-up short.
 */
function selectCommands(argv: readonly string[]): Loader[] {
  const first = argv[0];
  if (
    first === undefined ||
    (first.startsWith('-') && ['--help', '-h', '--version'].includes(first))
  ) {
    return Object.values(commands);
  }
  const named = commands[ALIASES[first] ?? first];
  if (named) return [named];
  return [commands.build!];
}

/** `tbuild [build] …` without help or version: the hot path, parsed without yargs. */
function isPlainBuild(argv: readonly string[]): boolean {
  if (wantsHelp(argv) || argv.includes('--version')) return false;
  const first = argv[0]!;
  return first === 'build' || !(first in commands || first in ALIASES);
}

async function runFastBuild(argv: readonly string[]): Promise<number> {
  try {
    const [{ parseBuildArgsFast, runBuildCommand }, { withProcessIO }] = await Promise.all([
      import('./commands/build.ts'),
      import('./io.ts'),
    ]);
    const args = await parseBuildArgsFast(argv);
    await withProcessIO((io) => runBuildCommand(args, io));
    return 0;
  } catch (error) {
    const { text, code } = formatError(error);
    process.stderr.write(text + '\n');
    return code;
  }
}

function wantsHelp(argv: readonly string[]): boolean {
  return argv.length === 0 || argv.includes('--help') || argv.includes('-h') || argv[0] === 'help';
}

export async function main(argv: string[]): Promise<number> {
  if (isPlainBuild(argv)) return runFastBuild(argv);
  const { default: yargs } = await import('yargs');
  const modules = await Promise.all(selectCommands(argv).map((load) => load()));
  let exitCode = 0;
  const cli = yargs(argv)
    .scriptName('tbuild')
    // docker flags such as --no-cache are names of their own, not negations of --cache.
    .parserConfiguration({ 'boolean-negation': false, 'populate--': true })
    .strict()
    .demandCommand(1, 'Name a command, e.g. `tbuild build .` (see --help).')
    .recommendCommands()
    // Rendering help costs ~20 ms (cliui); only offer it when it is asked for.
    .help(wantsHelp(argv))
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
