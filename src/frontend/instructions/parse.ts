/**
 * Parser node → typed command. Validates the instruction name, its flags and the shape
 * of its arguments; expansion of variables happens later, during lowering.
 */
import { splitCommand } from '../../parser/split-command.ts';
import type { Instruction } from '../../parser/types.ts';
import { closestMatch } from '../../shared/errors.ts';
import type { SourceLocation } from '../../shared/errors.ts';
import { didYouMean, InvalidInstructionError, UnknownInstructionError } from '../errors.ts';
import { parseFlags } from './flags.ts';
import type { FlagKind } from './flags.ts';
import { parseHealthcheck } from './healthcheck.ts';
import { parseMount } from './mounts.ts';
import { INSTRUCTION_NAMES } from './types.ts';
import type {
  AddCommand,
  ArgCommand,
  EnvCommand,
  FromCommand,
  LabelCommand,
  CommandBase,
  CommandLine,
  Command,
  CopyCommand,
  KeyValue,
  RunCommand,
} from './types.ts';

const FLAGS: Record<string, Record<string, FlagKind>> = {
  FROM: { platform: 'string' },
  RUN: { mount: 'list', network: 'string', security: 'string' },
  COPY: {
    from: 'string',
    chown: 'string',
    chmod: 'string',
    link: 'bool',
    parents: 'bool',
    exclude: 'list',
  },
  ADD: {
    chown: 'string',
    chmod: 'string',
    link: 'bool',
    checksum: 'string',
    'keep-git-dir': 'bool',
    exclude: 'list',
    unpack: 'bool',
  },
  HEALTHCHECK: {
    interval: 'string',
    timeout: 'string',
    'start-period': 'string',
    'start-interval': 'string',
    retries: 'string',
  },
};

/** Instructions not allowed after ONBUILD. */
const NOT_ONBUILD = new Set(['ONBUILD', 'FROM', 'MAINTAINER']);

/**
 * Turn one parsed instruction into a typed command. `file` is used in error locations.
 * Throws UnknownInstructionError, UnknownFlagError or InvalidInstructionError.
 */
export function parseCommand(node: Instruction, file?: string): Command {
  const name = node.name.toUpperCase();
  const location: SourceLocation =
    file === undefined ? { range: node.range } : { file, range: node.range };
  if (!(INSTRUCTION_NAMES as readonly string[]).includes(name)) {
    throw new UnknownInstructionError(`unknown instruction: ${node.name}`, {
      hint: didYouMean(
        closestMatch(name, INSTRUCTION_NAMES),
        'See the Dockerfile reference for valid instructions.',
      ),
      location,
    });
  }
  const written = splitCommand(node.original).name;
  const base: CommandBase = { name, written, original: node.original, range: node.range, location };
  const flags = parseFlags(name, node.flags, FLAGS[name] ?? {}, location);
  const fail = (message: string, hint: string): never => {
    throw new InvalidInstructionError(`${name}: ${message}`, { hint, location });
  };
  const args = node.args;
  const needArgs = (min: number, what: string): void => {
    if (args.length < min) fail(`requires ${what}`, `Write ${name} ${what}.`);
  };
  switch (name) {
    case 'FROM':
      return parseFrom(base, args, flags.string('platform'), fail);
    case 'RUN':
      return parseRun(
        base,
        node,
        flags.list('mount'),
        flags.string('network'),
        flags.string('security'),
        fail,
      );
    case 'CMD':
    case 'ENTRYPOINT':
      return { ...base, kind: name === 'CMD' ? 'cmd' : 'entrypoint', ...commandLine(node) };
    case 'COPY':
    case 'ADD':
      return parseCopyLike(base, node, flags, fail);
    case 'ENV':
    case 'LABEL':
      return parsePairs(base, args, isLegacyKeyValue(node), fail);
    case 'ARG':
      return parseArg(base, args, fail);
    case 'EXPOSE':
      needArgs(1, '<port>[/<protocol>]');
      return { ...base, kind: 'expose', ports: [...args] };
    case 'VOLUME':
      needArgs(1, '<path>');
      if (args.some((v) => v.trim() === ''))
        fail('volume paths cannot be empty', 'Remove the empty path.');
      return { ...base, kind: 'volume', volumes: [...args] };
    case 'USER':
    case 'WORKDIR':
    case 'STOPSIGNAL':
    case 'MAINTAINER': {
      if (args.length !== 1) fail(`requires exactly one argument`, `Write ${name} <value>.`);
      const value = args[0]!;
      if (name === 'USER') return { ...base, kind: 'user', user: value };
      if (name === 'WORKDIR') return { ...base, kind: 'workdir', path: value };
      if (name === 'STOPSIGNAL') return { ...base, kind: 'stopsignal', signal: value };
      return { ...base, kind: 'maintainer', maintainer: value };
    }
    case 'SHELL':
      if (!node.json)
        fail('requires the arguments as a JSON array', 'Write SHELL ["executable", "parameters"].');
      needArgs(1, '["executable", …]');
      return { ...base, kind: 'shell', shell: [...args] };
    case 'HEALTHCHECK':
      return parseHealthcheck(base, node, flags, fail);
    default:
      return parseOnbuild(base, node, file, fail);
  }
}

function parseFrom(
  base: CommandBase,
  args: readonly string[],
  platform: string | undefined,
  fail: Fail,
): FromCommand {
  const named = args.length === 3 && args[1]!.toUpperCase() === 'AS';
  if (args.length !== 1 && !named) {
    fail('expects an image and an optional "AS <name>"', 'Write FROM <image> [AS <name>].');
  }
  if (named && !/^[a-z][a-z0-9._-]*$/i.test(args[2]!)) {
    fail(
      `invalid stage name "${args[2]}"`,
      'Stage names start with a letter and use letters, digits, ".", "_" and "-".',
    );
  }
  return {
    ...base,
    kind: 'from',
    image: args[0]!,
    stageName: named ? args[2] : undefined,
    asKeyword: named ? args[1] : undefined,
    platform,
  };
}

/** ENV and LABEL: the parser hands alternating keys and values. */
function parsePairs(
  base: CommandBase,
  args: readonly string[],
  legacy: boolean,
  fail: Fail,
): EnvCommand | LabelCommand {
  const name = base.name;
  if (args.length === 0 || args.length % 2 !== 0) {
    fail('expects key=value pairs', `Write ${name} <key>=<value> ….`);
  }
  const pairs: KeyValue[] = [];
  for (let i = 0; i < args.length; i += 2) pairs.push({ key: args[i]!, value: args[i + 1]! });
  if (pairs.some((p) => p.key === '')) fail('has an empty name', `Write ${name} <key>=<value>.`);
  return name === 'ENV'
    ? { ...base, kind: 'env', pairs, legacy }
    : { ...base, kind: 'label', pairs, legacy };
}

/** `ENV key value`: the parser takes the old form when the first word has no `=`. */
function isLegacyKeyValue(node: Instruction): boolean {
  const first = splitCommand(node.original).rest.split(/[ \t\r\n\f\v]/, 1)[0] ?? '';
  return !first.includes('=');
}

function parseArg(base: CommandBase, args: readonly string[], fail: Fail): ArgCommand {
  if (args.length === 0) fail('requires <name>[=<default>]', 'Write ARG <name>[=<default>].');
  const parsed = args.map((word) => {
    const eq = word.indexOf('=');
    const key = eq < 0 ? word : word.slice(0, eq);
    if (key === '') fail(`invalid argument "${word}"`, 'Write ARG <name>[=<default>].');
    return eq < 0 ? { key } : { key, value: word.slice(eq + 1) };
  });
  return { ...base, kind: 'arg', args: parsed };
}

function commandLine(node: Instruction): CommandLine {
  return {
    cmd: node.json ? [...node.args] : [node.args.join(' ')],
    shellForm: !node.json,
    heredocs: node.heredocs.map((h) => ({ ...h })),
  };
}

type Fail = (message: string, hint: string) => never;

function parseRun(
  base: CommandBase,
  node: Instruction,
  mounts: string[],
  network: string | undefined,
  security: string | undefined,
  fail: Fail,
): RunCommand {
  if (
    node.args.length === 0 ||
    (node.args.length === 1 && node.args[0]!.trim() === '' && node.heredocs.length === 0)
  ) {
    fail('requires a command', 'Write RUN <command>.');
  }
  if (network !== undefined && !['default', 'none', 'host'].includes(network)) {
    fail(
      `--network=${network} is not supported`,
      didYouMean(
        closestMatch(network, ['default', 'none', 'host']),
        'Use --network=default, none or host.',
      ),
    );
  }
  if (security !== undefined && !['sandbox', 'insecure'].includes(security)) {
    fail(
      `--security=${security} is not supported`,
      'Use --security=sandbox or --security=insecure.',
    );
  }
  // Check the syntax now, so a typo fails before anything runs; values are expanded later.
  for (const mount of mounts) parseMount(mount, (w) => w, base.location);
  const cmd: RunCommand = { ...base, kind: 'run', ...commandLine(node), mounts };
  if (network !== undefined) cmd.network = network as RunCommand['network'];
  if (security !== undefined) cmd.security = security as RunCommand['security'];
  return cmd;
}

function parseCopyLike(
  base: CommandBase,
  node: Instruction,
  flags: ReturnType<typeof parseFlags>,
  fail: Fail,
): CopyCommand | AddCommand {
  const words = [...node.args];
  if (words.length < 2 && !(words.length === 1 && node.heredocs.length > 0)) {
    fail('requires at least one source and a destination', `Write ${base.name} <src>… <dest>.`);
  }
  const dest = words.pop()!;
  const common = {
    ...base,
    sources: words,
    dest,
    heredocs: node.heredocs.map((h) => ({ ...h })),
    chown: flags.string('chown'),
    chmod: flags.string('chmod'),
    link: flags.bool('link') ?? false,
    exclude: flags.list('exclude'),
  };
  if (base.name === 'COPY') {
    return {
      ...common,
      kind: 'copy',
      from: flags.string('from'),
      parents: flags.bool('parents') ?? false,
    };
  }
  return {
    ...common,
    kind: 'add',
    checksum: flags.string('checksum'),
    keepGitDir: flags.bool('keep-git-dir') ?? false,
    unpack: flags.bool('unpack'),
  };
}

function parseOnbuild(
  base: CommandBase,
  node: Instruction,
  file: string | undefined,
  fail: Fail,
): Command {
  const expression = node.original.replace(/^\s*ONBUILD\s*/i, '').trim();
  const trigger = (node.next?.name ?? expression.split(/\s+/)[0] ?? '').toUpperCase();
  if (trigger === '') fail('requires a trigger instruction', 'Write ONBUILD <instruction>.');
  if (trigger === 'ONBUILD')
    fail('chaining ONBUILD via "ONBUILD ONBUILD" is not allowed', 'Remove the second ONBUILD.');
  if (NOT_ONBUILD.has(trigger))
    fail(`${trigger} is not allowed as an ONBUILD trigger`, `Move ${trigger} out of ONBUILD.`);
  // Validate the trigger now, so a typo shows in this Dockerfile rather than in a child's.
  if (node.next) parseCommand(node.next, file);
  return { ...base, kind: 'onbuild', expression };
}
