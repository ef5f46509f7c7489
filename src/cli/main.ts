/**
 * tbuild's command line. Thin: each command lives in src/cli/commands/<name>.ts and
 * lazy-loads the modules it needs, so that `tbuild --help` or a no-op rebuild starts fast.
 */
import { existsSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { closestMatch, UsageError } from '../shared/errors.ts';
import { formatError, parserFailure } from './errors.ts';
import type { Invocation } from './io.ts';

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
  check: () => import('./commands/check.ts'),
  import: () => import('./commands/import.ts'),
  login: () => import('./commands/login.ts'),
  logout: () => import('./commands/logout.ts'),
  pull: () => import('./commands/pull.ts'),
  push: () => import('./commands/push.ts'),
  save: () => import('./commands/save.ts'),
  load: () => import('./commands/load.ts'),
  inspect: () => import('./commands/inspect.ts'),
  history: () => import('./commands/history.ts'),
  doctor: () => import('./commands/doctor.ts'),
  version: () => import('./commands/version.ts'),
  unshare: () => import('./commands/unshare.ts'),
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
    (first.startsWith('-') && ['--help', '-h', '--get-yargs-completions'].includes(first)) ||
    first === 'completion'
  ) {
    return Object.values(commands);
  }
  const named = commands[ALIASES[first] ?? first];
  if (named) return [named];
  return [commands.build!];
}

function isCommand(word: string | undefined): boolean {
  return word !== undefined && (word in commands || word in ALIASES);
}

/** Flags every command takes, so they may come before the command: `tbuild --root X images`. */
const GLOBAL_FLAGS = ['--root'];

/** Where the command name would be: after any global flags written first. */
function commandIndex(argv: readonly string[]): number {
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i]!;
    if (GLOBAL_FLAGS.includes(arg)) i += 2;
    else if (GLOBAL_FLAGS.some((flag) => arg.startsWith(`${flag}=`))) i += 1;
    else break;
  }
  return i;
}

/**
 * Move global flags written before the command name behind it, where the command's own
 * parser takes them. Without a command name the arguments are a build's and stay as they
 * are (build takes the same flags anywhere).
 */
export function hoistGlobalFlags(argv: readonly string[]): string[] {
  const i = commandIndex(argv);
  if (i === 0 || i >= argv.length || !isCommand(argv[i])) return [...argv];
  return [argv[i]!, ...argv.slice(0, i), ...argv.slice(i + 1)];
}

/**
 * `tbuild bild` is a mistyped command, not a build of a directory called `bild`: a bare
 * word in the command's place that names no command and no existing path is refused, with
 * the closest command suggested (docker: "unknown command").
 */
export function checkCommandWord(argv: readonly string[]): void {
  const word = argv[commandIndex(argv)];
  if (word === undefined || isCommand(word) || word === 'help' || YARGS_COMMANDS.includes(word))
    return;
  if (!/^[a-z][a-z0-9-]*$/.test(word) || existsSync(word)) return;
  // Close in spelling and starting alike: `bild` → build, but not `bake` → save.
  const near = closestMatch(word, [...Object.keys(commands), ...Object.keys(ALIASES)]);
  const suggest = near !== undefined && near[0] === word[0] ? near : undefined;
  const asPath = `To build a directory named ${word}, give its path: ./${word}.`;
  throw new UsageError(`unknown command "${word}" for "tbuild"`, {
    hint: suggest
      ? `Did you mean \`tbuild ${suggest}\`? ${asPath}`
      : `Run 'tbuild --help' for the commands. ${asPath}`,
  });
}

/** Commands yargs itself provides: the completion script and its callback. */
const YARGS_COMMANDS = ['completion', '--get-yargs-completions'];

/** `tbuild [build] …` without help or version: the hot path, parsed without yargs. */
function isPlainBuild(argv: readonly string[]): boolean {
  if (wantsHelp(argv) || argv[0] === '--version') return false;
  const first = argv[0]!;
  if (YARGS_COMMANDS.includes(first)) return false;
  return first === 'build' || !isCommand(first);
}

async function runFastBuild(argv: readonly string[], invocation?: Invocation): Promise<number> {
  prefetchBuildModules();
  try {
    const [{ parseBuildArgsFast, runBuildCommand }, { withProcessIO }] = await Promise.all([
      import('./commands/build.ts'),
      import('./io.ts'),
    ]);
    const args = await parseBuildArgsFast(argv);
    await withProcessIO((io) => runBuildCommand(args, invocation ? { ...io, invocation } : io));
    return 0;
  } catch (error) {
    return report(error);
  }
}

/**
 * Start loading what every build loads, side by side. Each of these is otherwise found only
 * once the one before it has run (command → flag parser → build runner → builder), and the
 * loader's waits added up to a third of a no-op build's start-up.
 */
function prefetchBuildModules(): void {
  for (const load of [
    () => import('yargs-parser'),
    () => import('./build/run.ts'),
    () => import('../builder/builder.ts'),
  ])
    load().catch(() => undefined); // the build's own import reports a failure
}

function wantsHelp(argv: readonly string[]): boolean {
  return argv.length === 0 || argv.includes('--help') || argv.includes('-h') || argv[0] === 'help';
}

/**
 * Run the command line `given`. `program` is set when tbuild runs as a program (not in a
 * test): `codeFile` is the build's code, which the up-to-date check's memos name (ADR 23).
 */
export async function main(given: string[], program?: { codeFile: string }): Promise<number> {
  let argv = hoistGlobalFlags(given);
  // `--version` as docker and buildx print it (name, version, commit), not yargs' number.
  if (argv.length === 1 && argv[0] === '--version') argv = ['version'];
  try {
    checkCommandWord(argv);
    // Not root: run again in a user namespace (ADR 17); the module loads only then.
    if (process.getuid?.() !== 0) {
      const { needsUserNamespace, reexecInUserNamespace } = await import('./rootless.ts');
      if (needsUserNamespace(argv)) return await reexecInUserNamespace(given);
    }
    if (argv[0] === 'unshare') {
      const { runUnshare, unshareWords } = await import('./commands/unshare.ts');
      const words = unshareWords(argv);
      if (words !== undefined) return await runUnshare(words);
    }
  } catch (error) {
    return report(error);
  }
  if (isPlainBuild(argv))
    return runFastBuild(argv, program ? { argv: given, codeFile: program.codeFile } : undefined);
  // Without yargs: it loads cliui's string-width, ~60 ms of a 60 ms answer.
  if (argv.length === 1 && argv[0] === 'version') {
    const { formatVersion, readVersionInfo } = await import('./version.ts');
    process.stdout.write(formatVersion(await readVersionInfo()) + '\n');
    return 0;
  }
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
    .version(false)
    // `tbuild completion` prints a bash script (zsh's when $SHELL is zsh).
    .completion('completion', 'Print a bash/zsh completion script (eval "$(tbuild completion)")')
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((message, error) => {
      throw error ?? parserFailure(message);
    });
  for (const mod of modules) cli.command(mod.command as CommandModule);
  try {
    await cli.parseAsync();
  } catch (error) {
    exitCode = report(error);
  }
  // A command that reports a failure itself (doctor) sets process.exitCode.
  return exitCode || Number(process.exitCode ?? 0);
}

/** Print an error as the CLI shows errors; returns its exit code. */
function report(error: unknown): number {
  const { text, code } = formatError(error);
  // A QuietFailure has said everything already (its text is empty).
  if (text) process.stderr.write(text + '\n');
  return code;
}
