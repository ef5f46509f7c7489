/**
 * `tbuild build [OPTIONS] PATH` — also the default command, so `tbuild -t app:1.0 .`
 * works like `docker build -t app:1.0 .`. Flags follow docker build / buildx build.
 *
 * The options live in one table: yargs gets them for help and the slow path, and
 * `parseBuildArgsFast` gives them to yargs-parser directly, which skips loading yargs'
 * help machinery on the hot path (a no-op rebuild).
 */
import type { Argv, CommandModule, Options } from 'yargs';
import { list } from '../args.ts';
import { UsageError } from '../../shared/errors.ts';
import { parserFailure } from '../errors.ts';
import type { BuildFlags } from '../build/flags.ts';
import type { WatchFlags } from '../watch/run.ts';
import { withProcessIO, type CliIO } from '../io.ts';

export interface BuildArgs {
  context?: string;
  [flag: string]: unknown;
}

type OptionSpec = Options & { type: 'string' | 'boolean' | 'number'; describe: string };

/**
 * docker build flags that BuildKit accepts and ignores (it runs no intermediate
 * containers and sets no resource limits on RUN): scripts pass them, so tbuild takes them
 * too, warning about those that would change something in the legacy builder.
 */
const LEGACY_FLAGS: ReadonlyArray<readonly [string, 'string' | 'boolean' | 'number', string?]> = [
  ['rm', 'boolean'],
  ['force-rm', 'boolean'],
  ['compress', 'boolean'],
  ['disable-content-trust', 'boolean'],
  ['isolation', 'string'],
  ['memory', 'string', 'm'],
  ['memory-swap', 'string'],
  ['cpu-shares', 'number', 'c'],
  ['cpu-period', 'number'],
  ['cpu-quota', 'number'],
  ['cpuset-cpus', 'string'],
  ['cpuset-mems', 'string'],
  ['cgroup-parent', 'string'],
  ['security-opt', 'string'],
];

/** Every build flag: docker build / buildx names, then tbuild's own. */
export const BUILD_OPTIONS: Record<string, OptionSpec> = {
  file: {
    alias: 'f',
    type: 'string',
    describe: 'Name of the Dockerfile (default: PATH/Dockerfile; - for stdin)',
  },
  tag: {
    alias: 't',
    type: 'string',
    requiresArg: true,
    describe: 'Name and optionally a tag (name:tag); repeatable',
  },
  'build-arg': {
    type: 'string',
    requiresArg: true,
    describe: 'Set build-time variables (KEY=VALUE); repeatable',
  },
  target: { type: 'string', describe: 'Set the target build stage to build' },
  platform: {
    type: 'string',
    describe:
      'Target platforms (os/arch[/variant], e.g. linux/arm64); several, comma-separated, make an image index',
  },
  'no-cache': { type: 'boolean', describe: 'Do not use cache when building the image' },
  'no-cache-filter': {
    type: 'string',
    requiresArg: true,
    describe: 'Do not cache the named stages; repeatable',
  },
  pull: { type: 'boolean', describe: 'Always attempt to pull newer versions of the base images' },
  progress: {
    type: 'string',
    describe:
      'Progress output: auto, tty, plain, json, quiet (default: $BUILDKIT_PROGRESS, else auto)',
  },
  output: {
    alias: 'o',
    type: 'string',
    requiresArg: true,
    describe: 'Output destination (type=docker|oci|local|tar|image,dest=…)',
  },
  push: { type: 'boolean', describe: 'Shorthand for --output=type=image,push=true' },
  load: { type: 'boolean', describe: 'Load the image into a running Docker daemon' },
  iidfile: { type: 'string', describe: 'Write the image ID to the file' },
  'metadata-file': { type: 'string', describe: 'Write build result metadata to the file' },
  secret: {
    type: 'string',
    requiresArg: true,
    describe: 'Secret for RUN --mount=type=secret (id=NAME,src=FILE | env=VAR)',
  },
  ssh: {
    type: 'string',
    requiresArg: true,
    describe: 'SSH agent for RUN --mount=type=ssh (default | ID=SOCKET; default is $SSH_AUTH_SOCK)',
  },
  network: {
    type: 'string',
    describe:
      'Networking mode for RUN instructions: default (isolated, outbound only), host (needs --allow network.host), none',
  },
  allow: {
    type: 'string',
    requiresArg: true,
    describe: 'Allow an extra privileged entitlement: network.host, security.insecure; repeatable',
  },
  'build-context': {
    type: 'string',
    requiresArg: true,
    describe:
      'Additional named context (NAME=DIR, a git URL, an https archive, or docker-image://REF); repeatable',
  },
  'add-host': {
    type: 'string',
    requiresArg: true,
    describe: 'Add a host-to-IP mapping to /etc/hosts of RUN (host:ip); repeatable',
  },
  'shm-size': { type: 'string', describe: 'Size of /dev/shm for RUN, e.g. 256m (default 64m)' },
  ulimit: {
    type: 'string',
    requiresArg: true,
    describe: 'Resource limit for RUN (name=soft[:hard], e.g. nofile=1024:2048); repeatable',
  },
  provenance: {
    type: 'string',
    describe: 'Provenance attestation: only false is accepted (none is made yet)',
  },
  sbom: { type: 'string', describe: 'SBOM attestation: only false is accepted (none is made yet)' },
  'cache-from': {
    type: 'string',
    requiresArg: true,
    describe:
      'Import build cache: type=local,src=DIR | type=registry,ref=REF | REF | type=gha; repeatable',
  },
  'cache-to': {
    type: 'string',
    requiresArg: true,
    describe:
      'Export build cache: type=local,dest=DIR | type=registry,ref=REF | type=inline | type=gha, with mode=min|max; repeatable',
  },
  ...Object.fromEntries(
    LEGACY_FLAGS.map(([name, type, alias]) => [
      name,
      {
        type,
        hidden: true,
        describe: 'Accepted for docker build compatibility and ignored, as BuildKit does',
        ...(alias ? { alias } : {}),
      },
    ]),
  ),
  label: {
    type: 'string',
    requiresArg: true,
    describe: 'Set metadata for an image (KEY=VALUE); repeatable',
  },
  quiet: {
    alias: 'q',
    type: 'boolean',
    describe:
      "Suppress the build output and print the image ID (on failure, the failing step's output)",
  },
  root: {
    type: 'string',
    describe: 'Store directory (default /var/lib/tbuild as root; TBUILD_ROOT)',
  },
  'max-parallelism': { type: 'number', describe: 'Steps run at once (default: number of cores)' },
  'dry-run': { type: 'boolean', describe: 'Print the build graph and image config; run nothing' },
  check: { type: 'boolean', describe: 'Run the build checks without building (--call=check)' },
  call: {
    type: 'string',
    describe: 'What to do with the Dockerfile: build (default) or check[,format=json]',
  },
  format: { type: 'string', describe: 'Format for --dry-run: text or json' },
  'insecure-registry': {
    type: 'string',
    requiresArg: true,
    describe: 'Registry host:port reachable over plain HTTP',
  },
  watch: { type: 'boolean', describe: 'Rebuild when files change (as tbuild watch)' },
};

/** Watch mode's own flags (tbuild watch, tbuild build --watch). */
export const WATCH_OPTIONS: Record<string, OptionSpec> = {
  debounce: {
    type: 'string',
    describe:
      'Batch changes that come within this time of each other into one build (default 100ms)',
  },
  queue: {
    type: 'boolean',
    describe: 'Let a running build finish before the next one (default: cancel it)',
  },
  run: {
    type: 'boolean',
    describe: "Run the image after each build, restarting it (-- CMD… overrides the image's CMD)",
  },
  exec: {
    type: 'string',
    describe: 'Run a host command after each build, with TBUILD_IMAGE_ID set',
  },
  'stop-timeout': {
    type: 'number',
    describe: 'Seconds a --run container gets to stop before it is killed (default 10)',
  },
};

/** Every flag `tbuild build` takes, watch mode's included. */
const ALL_BUILD_OPTIONS = { ...BUILD_OPTIONS, ...WATCH_OPTIONS };

const str = (v: unknown): string | undefined => (v === undefined ? undefined : String(v as string));
const strs = (v: unknown): string[] => list(v as string | string[] | undefined).map(String);
const bool = (v: unknown): boolean | undefined => (v === undefined ? undefined : Boolean(v));

/** Run the build for parsed flags (from yargs or from the fast path). */
export async function runBuildCommand(args: BuildArgs, io: CliIO): Promise<void> {
  const watchFlags = toWatchFlags(args);
  if (args.watch === true) {
    const { runWatchCli } = await import('../watch/run.ts');
    await runWatchCli(toBuildFlags(args), watchFlags, io);
    return;
  }
  const given = Object.keys(WATCH_OPTIONS).filter((name) => args[name] !== undefined);
  if (given.length > 0 || (args['--'] as unknown[] | undefined)?.length)
    throw new UsageError(
      given.length > 0
        ? `--${given[0]} needs --watch (or tbuild watch)`
        : 'arguments after -- are for tbuild watch --run',
      { hint: 'Add --watch, or run `tbuild watch`.' },
    );
  const { runBuildCli } = await import('../build/run.ts');
  await runBuildCli(toBuildFlags(args), io);
}

/** yargs' parsed arguments as watch mode's flags. */
export function toWatchFlags(args: BuildArgs): WatchFlags {
  const timeout = args['stop-timeout'];
  return {
    debounce: str(args.debounce),
    queue: bool(args.queue),
    run: bool(args.run),
    exec: str(args.exec),
    stopTimeout: timeout === undefined ? undefined : Number(timeout),
    command: strs(args['--']),
  };
}

/** yargs' parsed arguments as the build's flags. */
export function toBuildFlags(args: BuildArgs): BuildFlags {
  const max = args['max-parallelism'];
  return {
    context: str(args.context),
    file: str(args.file),
    tag: strs(args.tag),
    buildArg: strs(args['build-arg']),
    target: str(args.target),
    platform: str(args.platform),
    noCache: bool(args['no-cache']),
    noCacheFilter: strs(args['no-cache-filter']),
    pull: bool(args.pull),
    progress: str(args.progress),
    output: strs(args.output),
    push: bool(args.push),
    load: bool(args.load),
    iidfile: str(args.iidfile),
    metadataFile: str(args['metadata-file']),
    secret: strs(args.secret),
    ssh: strs(args.ssh),
    buildContext: strs(args['build-context']),
    addHost: strs(args['add-host']),
    shmSize: str(args['shm-size']),
    ulimit: strs(args.ulimit),
    provenance: str(args.provenance),
    sbom: str(args.sbom),
    cacheFrom: strs(args['cache-from']),
    cacheTo: strs(args['cache-to']),
    // Legacy flags that change something in docker's old builder: they get a warning.
    ignored: LEGACY_FLAGS.map(([name]) => name).filter(
      (name) =>
        args[name] !== undefined && !['rm', 'force-rm', 'disable-content-trust'].includes(name),
    ),
    network: str(args.network),
    allow: strs(args.allow),
    label: strs(args.label),
    quiet: bool(args.quiet),
    root: str(args.root),
    maxParallelism: max === undefined ? undefined : Number(max),
    dryRun: bool(args['dry-run']),
    check: bool(args.check),
    call: str(args.call),
    format: str(args.format),
    insecureRegistry: strs(args['insecure-registry']),
  };
}

export const command: CommandModule<object, BuildArgs> = {
  command: ['build [context]', '$0 [context]'],
  describe: 'Build an image from a Dockerfile',
  builder: (yargs: Argv) =>
    yargs
      .positional('context', { type: 'string', describe: 'Build context directory', default: '.' })
      .options(ALL_BUILD_OPTIONS) as unknown as Argv<BuildArgs>,
  handler: (args) => withProcessIO((io) => runBuildCommand(args, io)),
};

/**
 * Parse `[build] [flags] [context]` with yargs-parser and the same option table, with
 * yargs' strictness: unknown flags, missing flag values and extra arguments are errors.
 */
export async function parseBuildArgsFast(argv: readonly string[]): Promise<BuildArgs> {
  const { default: parse } = await import('yargs-parser');
  const alias: Record<string, string> = {};
  const types: Record<'string' | 'boolean' | 'number', string[]> = {
    string: [],
    boolean: [],
    number: [],
  };
  for (const [name, spec] of Object.entries(ALL_BUILD_OPTIONS)) {
    if (typeof spec.alias === 'string') alias[name] = spec.alias;
    types[spec.type].push(name);
  }
  const parsed = parse([...argv], {
    alias,
    string: types.string,
    boolean: types.boolean,
    number: types.number,
    configuration: {
      'boolean-negation': false,
      'camel-case-expansion': false,
      'strip-aliased': true,
      'populate--': true,
    },
  });
  const known = new Set([...Object.keys(ALL_BUILD_OPTIONS), '_', '$0', '--']);
  for (const key of Object.keys(parsed)) {
    if (!known.has(key)) throw parserFailure(`Unknown argument: ${key}`);
  }
  for (const [name, spec] of Object.entries(ALL_BUILD_OPTIONS)) {
    if (
      spec.type === 'string' &&
      (parsed[name] === '' ||
        (Array.isArray(parsed[name]) && (parsed[name] as string[]).includes('')))
    ) {
      if (
        spec.requiresArg ||
        argv.some((a) => a === `--${name}` || a === `-${String(spec.alias)}`)
      ) {
        throw parserFailure(`Not enough arguments following: ${name}`);
      }
    }
  }
  const positionals = parsed._.map(String);
  if (positionals[0] === 'build') positionals.shift();
  if (positionals.length > 1) throw parserFailure(`Unknown argument: ${positionals[1]}`);
  return { ...parsed, context: positionals[0] ?? '.' };
}
