/**
 * `tbuild build` options: what the user typed (UserBuildOptions) is resolved once, with
 * defaults and environment merged here and nowhere else, into a read-only
 * ResolvedBuildOptions.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../../shared/errors.ts';
import { hostPlatform, parsePlatform, type Platform } from '../../shared/platform.ts';
import { parseOutputs, type OutputSpec } from './outputs.ts';
import {
  parseAddHosts,
  parseRamSize,
  parseSecrets,
  parseSshAgents,
  parseUlimits,
} from './run-flags.ts';
import type { RemoteContext } from './remote-context.ts';
import { isGitUrl } from '../../shared/git-url.ts';

export interface UserBuildOptions {
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
  label?: string[];
  quiet?: boolean;
  root?: string;
  maxParallelism?: number;
  dryRun?: boolean;
  format?: string;
  insecureRegistry?: string[];
}

export type ProgressMode = 'auto' | 'tty' | 'plain' | 'json' | 'quiet';

export interface ResolvedBuildOptions {
  readonly contextDir: string;
  readonly dockerfilePath: string;
  readonly dockerfileText: string;
  readonly dockerignoreText: string;
  readonly tags: readonly string[];
  readonly buildArgs: Readonly<Record<string, string>>;
  readonly target: string | undefined;
  readonly platform: Platform;
  readonly buildPlatform: Platform;
  readonly noCache: boolean;
  readonly noCacheFilter: readonly string[];
  readonly pull: boolean;
  readonly progress: ProgressMode;
  readonly outputs: readonly OutputSpec[];
  readonly load: boolean;
  readonly iidfile: string | undefined;
  readonly metadataFile: string | undefined;
  readonly secrets: ReadonlyArray<{ id: string; file?: string; env?: string }>;
  /** Agent sockets by ssh mount id. */
  readonly sshAgents: Readonly<Record<string, string>>;
  readonly network: 'default' | 'host' | 'none';
  readonly labels: Readonly<Record<string, string>>;
  readonly quiet: boolean;
  readonly root: string | undefined;
  readonly maxParallelism: number | undefined;
  readonly dryRun: boolean;
  readonly format: 'text' | 'json';
  readonly sourceDateEpoch: number | undefined;
  readonly insecureRegistries: readonly string[];
  /** `--build-context`: local directories (by local source name) and images, by name. */
  readonly namedContexts: Readonly<Record<string, NamedContextOption>>;
  readonly extraHosts: ReadonlyArray<{ host: string; ip: string }>;
  /** Bytes of /dev/shm for RUN; undefined for the default. */
  readonly shmSize: number | undefined;
  readonly ulimits: ReadonlyArray<{ name: string; soft: number; hard: number }>;
  /** Flags accepted but without effect, to tell the user about. */
  readonly warnings: readonly string[];
  /** Remove what resolving made (a context read from stdin); call when the build is over. */
  dispose(): Promise<void>;
}

function parseKeyValues(
  list: readonly string[] | undefined,
  what: string,
  env: NodeJS.ProcessEnv,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const eq = item.indexOf('=');
    if (eq === 0)
      throw new UsageError(`invalid ${what} "${item}"`, { hint: `Use --${what} KEY=VALUE.` });
    if (eq < 0) {
      // docker: `--build-arg KEY` takes the value from the environment, when set.
      if (env[item] !== undefined) out[item] = env[item]!;
      continue;
    }
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export type NamedContextOption =
  { type: 'local'; source: string; dir: string } | { type: 'image'; ref: string };

/** `--build-context NAME=DIR`, `NAME=docker-image://REF`, a git URL or an https archive, as buildx. */
async function parseNamedContexts(
  list: readonly string[] | undefined,
  disposers: Array<() => Promise<void>>,
): Promise<Record<string, NamedContextOption>> {
  const contexts: Record<string, NamedContextOption> = {};
  for (const spec of list ?? []) {
    const eq = spec.indexOf('=');
    const name = spec.slice(0, eq);
    const value = spec.slice(eq + 1);
    if (eq <= 0 || value === '')
      throw new UsageError(`invalid --build-context "${spec}"`, {
        hint: 'Use --build-context NAME=DIR or NAME=docker-image://REF.',
      });
    if (value.startsWith('docker-image://')) {
      contexts[name] = { type: 'image', ref: value.slice('docker-image://'.length) };
      continue;
    }
    if (isGitUrl(value) || /^https?:\/\//i.test(value)) {
      // A repository or an archive, fetched as a main context would be.
      const { fetchRemoteContext } = await import('./remote-context.ts');
      const got = await fetchRemoteContext(value);
      disposers.push(got.dispose);
      if (got.dockerfileText !== undefined)
        throw new UsageError(`--build-context ${name}: ${value} is not an archive`, {
          hint: 'A URL context must be a tar archive (plain, gzip, bzip2 or xz) or a git repository.',
        });
      contexts[name] = { type: 'local', source: `named:${name}`, dir: got.dir };
      continue;
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || value.startsWith('target:'))
      throw new UsageError(
        `--build-context ${name}: ${value.split(':')[0]} sources are not supported yet`,
        {
          hint: 'Use a local directory, a git repository, an https archive or docker-image://REF.',
        },
      );
    const dir = path.resolve(value);
    if (!(await stat(dir).catch(() => undefined))?.isDirectory())
      throw new UsageError(`--build-context ${name}: ${value} is not a directory`, {
        hint: 'Give an existing directory, or docker-image://REF for an image.',
      });
    contexts[name] = { type: 'local', source: `named:${name}`, dir };
  }
  return contexts;
}

/** Flags that are accepted but do nothing here, and unsupported ones, as usage errors or warnings. */
function collectWarnings(user: UserBuildOptions): string[] {
  if (user.cacheFrom?.length || user.cacheTo?.length)
    throw new UsageError('--cache-from and --cache-to are not supported yet', {
      hint: 'tbuild keeps its cache in its store (--root); exporting and importing it is planned.',
    });
  const warnings = (user.ignored ?? []).map(
    (flag) =>
      `--${flag} is ignored: it applies to docker's legacy builder, not to BuildKit or tbuild`,
  );
  for (const [flag, value] of [
    ['provenance', user.provenance],
    ['sbom', user.sbom],
  ] as const) {
    if (value !== undefined && !['false', '0'].includes(value.toLowerCase()))
      warnings.push(`--${flag}=${value} is ignored: tbuild does not make attestations yet`);
  }
  return warnings;
}

async function readDockerfile(
  file: string | undefined,
  contextDir: string,
  base = process.cwd(),
): Promise<{ path: string; text: string }> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return {
      path: path.join(contextDir, 'Dockerfile'),
      text: Buffer.concat(chunks).toString('utf8'),
    };
  }
  const dockerfilePath = file ? path.resolve(base, file) : path.join(contextDir, 'Dockerfile');
  try {
    return { path: dockerfilePath, text: await readFile(dockerfilePath, 'utf8') };
  } catch (error) {
    throw new UsageError(
      `failed to read Dockerfile ${dockerfilePath}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      {
        hint: file
          ? 'Check the path given with -f.'
          : 'Add a Dockerfile to the context, or name one with -f.',
        cause: error,
      },
    );
  }
}

/** `<Dockerfile>.dockerignore` beside the Dockerfile wins over the context's `.dockerignore`. */
async function readDockerignore(dockerfilePath: string, contextDir: string): Promise<string> {
  for (const candidate of [
    `${dockerfilePath}.dockerignore`,
    path.join(contextDir, '.dockerignore'),
  ]) {
    try {
      return await readFile(candidate, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return '';
}

function progressMode(
  value: string | undefined,
  quiet: boolean,
  env: NodeJS.ProcessEnv,
): ProgressMode {
  if (quiet) return 'quiet';
  const mode = (value ?? env.BUILDKIT_PROGRESS ?? env.TBUILD_PROGRESS ?? 'auto').toLowerCase();
  const allowed: ProgressMode[] = ['auto', 'tty', 'plain', 'json', 'quiet'];
  if (mode === 'rawjson') return 'json';
  if (!allowed.includes(mode as ProgressMode)) {
    throw new UsageError(`invalid --progress value "${value}"`, {
      hint: `Use one of ${allowed.join(', ')}.`,
    });
  }
  return mode as ProgressMode;
}

/** Resolve what the user asked for into the options a build runs with. */
export async function resolveBuildOptions(
  user: UserBuildOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedBuildOptions> {
  let fetched: RemoteContext | undefined;
  // Loaded only for something that may be remote: a local build need not pay for git and tar.
  const remote = /^(?:-$|[a-z][a-z0-9+.-]*:\/\/|git@)/i.test(user.context ?? '')
    ? await import('./remote-context.ts')
    : undefined;
  if (user.context !== undefined && remote?.isRemoteContext(user.context)) {
    if (user.context === '-' && user.file === '-')
      throw new UsageError('cannot read both the Dockerfile and the build context from stdin', {
        hint: 'Pass the context as a directory, or put the Dockerfile inside the archive on stdin.',
      });
    fetched = await remote.fetchRemoteContext(user.context);
  }
  // Temp directories of fetched contexts (the main one, named ones), removed by dispose().
  const disposers: Array<() => Promise<void>> = fetched ? [fetched.dispose] : [];
  const dispose = async () => {
    for (const d of disposers.splice(0)) await d();
  };
  try {
    return await resolveWithContext(user, env, fetched, disposers, dispose);
  } catch (error) {
    await dispose();
    throw error;
  }
}

async function resolveWithContext(
  user: UserBuildOptions,
  env: NodeJS.ProcessEnv,
  fetched: RemoteContext | undefined,
  disposers: Array<() => Promise<void>>,
  dispose: () => Promise<void>,
): Promise<ResolvedBuildOptions> {
  const contextDir = fetched?.dir ?? path.resolve(user.context ?? '.');
  const st = await stat(contextDir).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new UsageError(`unable to prepare context: path "${user.context ?? '.'}" not found`, {
      hint: 'Pass the build context directory as the last argument, e.g. `tbuild build -t app .`, or - to read it from stdin.',
    });
  }
  const dockerfile =
    fetched?.dockerfileText !== undefined
      ? { path: path.join(contextDir, 'Dockerfile'), text: fetched.dockerfileText }
      : await readDockerfile(user.file, contextDir, fetched ? contextDir : undefined);
  const buildArgs = parseKeyValues(user.buildArg, 'build-arg', env);
  const epochText = buildArgs.SOURCE_DATE_EPOCH ?? env.SOURCE_DATE_EPOCH;
  const sourceDateEpoch =
    epochText !== undefined && epochText !== '' ? Number(epochText) : undefined;
  if (sourceDateEpoch !== undefined && !Number.isInteger(sourceDateEpoch)) {
    throw new UsageError(`invalid SOURCE_DATE_EPOCH "${epochText}"`, {
      hint: 'Use whole seconds since 1970, e.g. $(git log -1 --format=%ct).',
    });
  }
  const network = user.network ?? 'default';
  if (!['default', 'host', 'none'].includes(network)) {
    throw new UsageError(`invalid --network "${network}"`, { hint: 'Use default, host or none.' });
  }
  const tags = user.tag ?? [];
  const outputs = parseOutputs(user.output ?? [], { push: user.push ?? false, tags });
  const format = user.format ?? 'text';
  if (format !== 'text' && format !== 'json')
    throw new UsageError(`invalid --format "${format}"`, { hint: 'Use text or json.' });
  return Object.freeze({
    contextDir,
    dockerfilePath: dockerfile.path,
    dockerfileText: dockerfile.text,
    dockerignoreText: await readDockerignore(dockerfile.path, contextDir),
    tags,
    buildArgs,
    target: user.target,
    platform: user.platform ? parsePlatform(user.platform) : hostPlatform(),
    buildPlatform: hostPlatform(),
    noCache: user.noCache ?? false,
    noCacheFilter: user.noCacheFilter ?? [],
    pull: user.pull ?? false,
    progress: progressMode(user.progress, user.quiet ?? false, env),
    outputs,
    load: user.load ?? false,
    iidfile: user.iidfile,
    metadataFile: user.metadataFile,
    secrets: parseSecrets(user.secret),
    sshAgents: await parseSshAgents(user.ssh, env),
    network: network as 'default' | 'host' | 'none',
    labels: parseKeyValues(user.label, 'label', {}),
    quiet: user.quiet ?? false,
    root: user.root ?? env.TBUILD_ROOT,
    maxParallelism: user.maxParallelism,
    dryRun: user.dryRun ?? false,
    format,
    sourceDateEpoch,
    insecureRegistries: user.insecureRegistry ?? [],
    namedContexts: await parseNamedContexts(user.buildContext, disposers),
    extraHosts: parseAddHosts(user.addHost),
    shmSize: user.shmSize === undefined ? undefined : parseRamSize(user.shmSize, 'shm-size'),
    ulimits: parseUlimits(user.ulimit),
    warnings: collectWarnings(user),
    dispose,
  });
}
