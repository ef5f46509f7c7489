/**
 * `tbuild build` flags → the builder's typed options, plus what only the CLI uses
 * (progress mode, -q, --dry-run, the store and registry settings). docker's string syntax
 * is parsed by the builder's spec parsers, shared with the Action.
 */
import {
  parseAddHosts,
  parseAllow,
  parseKeyValues,
  parseNamedValues,
  parseCacheSpec,
  parseOutputSpec,
  parseRamSize,
  parseSecrets,
  parseSshAgents,
  parseUlimits,
  refuseAttestation,
} from '../../builder/specs/index.ts';
import type { BuildOptions, NetworkMode } from '../../builder/types.ts';
import { UsageError } from '../../shared/errors.ts';
import { parseCallOption, type CheckRequest } from './check.ts';

/** What the user typed, one field per flag (from yargs or the fast parser). */
export interface BuildFlags {
  context?: string;
  file?: string;
  tag?: string[];
  buildArg?: string[];
  target?: string;
  platform?: string;
  noCache?: boolean;
  noCacheFilter?: string[];
  pull?: boolean;
  progress?: string;
  output?: string[];
  push?: boolean;
  load?: boolean;
  iidfile?: string;
  metadataFile?: string;
  secret?: string[];
  ssh?: string[];
  buildContext?: string[];
  addHost?: string[];
  shmSize?: string;
  ulimit?: string[];
  provenance?: string;
  sbom?: string;
  cacheFrom?: string[];
  cacheTo?: string[];
  /** Legacy docker build flags given, accepted and ignored (each gets a warning). */
  ignored?: string[];
  network?: string;
  allow?: string[];
  label?: string[];
  quiet?: boolean;
  root?: string;
  maxParallelism?: number;
  dryRun?: boolean;
  /** `--check`: shorthand for `--call=check`. */
  check?: boolean;
  /** `--call=build|check[,format=json]`. */
  call?: string;
  format?: string;
  insecureRegistry?: string[];
}

export type ProgressMode = 'auto' | 'tty' | 'plain' | 'json' | 'quiet';

/** The CLI's own settings for one `tbuild build`. */
export interface CliBuildSettings {
  progress: ProgressMode;
  quiet: boolean;
  dryRun: boolean;
  /** `--check` / `--call=check`: run the build checks instead of building. */
  check: CheckRequest | undefined;
  format: 'text' | 'json';
  root: string | undefined;
  maxParallelism: number | undefined;
  insecureRegistries: string[];
  /** Flags accepted without effect, to tell the user about. */
  warnings: string[];
}

type Env = Readonly<Record<string, string | undefined>>;

/** Turn flags into build options and CLI settings; every usage error is raised here. */
export async function parseBuildFlags(
  flags: BuildFlags,
  env: Env,
): Promise<{ options: BuildOptions; settings: CliBuildSettings }> {
  const format = flags.format ?? 'text';
  if (format !== 'text' && format !== 'json')
    throw new UsageError(`invalid --format "${format}"`, { hint: 'Use text or json.' });
  const options: BuildOptions = {
    ...(flags.context !== undefined ? { context: flags.context } : {}),
    ...(flags.file !== undefined ? { file: flags.file } : {}),
    tags: flags.tag ?? [],
    buildArgs: parseKeyValues(flags.buildArg, '--build-arg', env),
    ...(flags.target !== undefined ? { target: flags.target } : {}),
    ...(flags.platform !== undefined ? { platform: flags.platform } : {}),
    noCache: flags.noCache ?? false,
    noCacheFilter: flags.noCacheFilter ?? [],
    pull: flags.pull ?? false,
    outputs: (flags.output ?? []).map(parseOutputSpec),
    cacheFrom: (flags.cacheFrom ?? []).map((spec) => parseCacheSpec(spec, 'from')),
    cacheTo: (flags.cacheTo ?? []).map((spec) => parseCacheSpec(spec, 'to')),
    push: flags.push ?? false,
    load: flags.load ?? false,
    ...(flags.iidfile !== undefined ? { iidfile: flags.iidfile } : {}),
    ...(flags.metadataFile !== undefined ? { metadataFile: flags.metadataFile } : {}),
    secrets: parseSecrets(flags.secret),
    sshAgents: await parseSshAgents(flags.ssh, env),
    buildContexts: parseNamedValues(
      flags.buildContext,
      '--build-context',
      'NAME=DIR or NAME=docker-image://REF',
    ),
    extraHosts: parseAddHosts(flags.addHost),
    ...(flags.shmSize !== undefined ? { shmSize: parseRamSize(flags.shmSize, 'shm-size') } : {}),
    ulimits: parseUlimits(flags.ulimit),
    // The builder checks the value: one place for every front door.
    network: (flags.network ?? 'default') as NetworkMode,
    allow: parseAllow(flags.allow),
    labels: parseKeyValues(flags.label, '--label'),
  };
  return {
    options,
    settings: {
      progress: progressMode(flags.progress, flags.quiet ?? false, env),
      quiet: flags.quiet ?? false,
      dryRun: flags.dryRun ?? false,
      check: parseCallOption(flags.call, flags.check ?? false),
      format,
      root: flags.root ?? env.TBUILD_ROOT,
      maxParallelism: flags.maxParallelism,
      insecureRegistries: flags.insecureRegistry ?? [],
      warnings: collectWarnings(flags),
    },
  };
}

function progressMode(value: string | undefined, quiet: boolean, env: Env): ProgressMode {
  if (quiet) return 'quiet';
  // The error names where the value came from: the flag or the variable that set it.
  const [source, given] =
    value !== undefined
      ? ['--progress', value]
      : env.BUILDKIT_PROGRESS !== undefined
        ? ['BUILDKIT_PROGRESS', env.BUILDKIT_PROGRESS]
        : env.TBUILD_PROGRESS !== undefined
          ? ['TBUILD_PROGRESS', env.TBUILD_PROGRESS]
          : ['', 'auto'];
  const mode = given.toLowerCase();
  const allowed: ProgressMode[] = ['auto', 'tty', 'plain', 'json', 'quiet'];
  if (mode === 'rawjson') return 'json';
  if (!allowed.includes(mode as ProgressMode)) {
    throw new UsageError(`invalid ${source} value "${given}"`, {
      hint: `Use one of ${allowed.join(', ')}${source === '--progress' ? '' : `, or unset ${source}`}.`,
    });
  }
  return mode as ProgressMode;
}

/** Flags that are accepted but do nothing here, and unsupported ones, as usage errors or warnings. */
function collectWarnings(flags: BuildFlags): string[] {
  const warnings = (flags.ignored ?? []).map(
    (flag) =>
      `--${flag} is ignored: it applies to docker's legacy builder, not to BuildKit or tbuild`,
  );
  refuseAttestation('provenance', flags.provenance);
  refuseAttestation('sbom', flags.sbom);
  return warnings;
}
