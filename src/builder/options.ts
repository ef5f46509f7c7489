/**
 * A build's options resolved once: what the caller gave (BuildOptions), with defaults,
 * files (Dockerfile, .dockerignore), remote contexts and the run's environment merged here
 * and nowhere else, into a read-only ResolvedBuildOptions.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ignoreFilesOf, readFirstIgnoreFile } from '../shared/dockerignore.ts';
import { InputError, UsageError } from '../shared/errors.ts';
import { hostPlatform, parseTargetPlatforms, type Platform } from '../shared/platform.ts';
import { checkOutputAttributes } from './specs/image-attributes.ts';
import { resolveNamedContexts, type NamedContextOption } from './named-contexts.ts';
import { parseAllow } from './specs/run-flags.ts';
import type { RemoteContext } from './remote-context.ts';
import type {
  BuildOptions,
  CacheSpec,
  BuildRun,
  Entitlement,
  HostEntry,
  NetworkMode,
  OutputSpec,
  Ulimit,
} from './types.ts';

export type { NamedContextOption } from './named-contexts.ts';

export interface ResolvedBuildOptions {
  readonly contextDir: string;
  readonly dockerfilePath: string;
  /** How errors and warnings name the Dockerfile: as given, else relative to the context. */
  readonly dockerfileName: string;
  readonly dockerfileText: string;
  readonly dockerignoreText: string;
  readonly tags: readonly string[];
  readonly buildArgs: Readonly<Record<string, string>>;
  readonly target: string | undefined;
  /** The first of `platforms`: what a single-platform build builds. */
  readonly platform: Platform;
  /** Every target platform (`--platform a,b`); more than one makes an image index. */
  readonly platforms: readonly Platform[];
  readonly buildPlatform: Platform;
  readonly noCache: boolean;
  readonly noCacheFilter: readonly string[];
  /** `--cache-from`, local paths absolute. */
  readonly cacheFrom: readonly CacheSpec[];
  /** `--cache-to`, local paths absolute. */
  readonly cacheTo: readonly CacheSpec[];
  readonly pull: boolean;
  /** Every output, with names filled in from the tags and `push` merged in. */
  readonly outputs: readonly OutputSpec[];
  readonly load: boolean;
  readonly iidfile: string | undefined;
  readonly metadataFile: string | undefined;
  /** Secrets as the engine reads them: absolute files, or values taken from the run's env. */
  readonly secrets: ReadonlyArray<{ id: string; file?: string; value?: string }>;
  /** Agent sockets by ssh mount id. */
  readonly sshAgents: Readonly<Record<string, string>>;
  readonly network: NetworkMode;
  readonly allow: readonly Entitlement[];
  readonly labels: Readonly<Record<string, string>>;
  readonly sourceDateEpoch: number | undefined;
  /** `--build-context`: local directories (by local source name) and images, by name. */
  readonly namedContexts: Readonly<Record<string, NamedContextOption>>;
  readonly extraHosts: readonly HostEntry[];
  /** Bytes of /dev/shm for RUN; undefined for the default. */
  readonly shmSize: number | undefined;
  readonly ulimits: readonly Ulimit[];
  /** Remove what resolving made (a fetched context); call when the build is over. */
  dispose(): Promise<void>;
}

/** What resolving reads besides the options: the run's working directory, env and stdin. */
interface Surroundings {
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  stdin: Readable | undefined;
}

function surroundings(run: BuildRun): Surroundings {
  return { cwd: run.cwd ?? path.resolve(), env: run.env ?? {}, stdin: run.stdin };
}

/** Resolve what the caller asked for into the options a build runs with. */
export async function resolveBuildOptions(
  options: BuildOptions,
  run: BuildRun = {},
): Promise<ResolvedBuildOptions> {
  const at = surroundings(run);
  const context = options.context ?? '.';
  let fetched: RemoteContext | undefined;
  // Loaded only for something that may be remote: a local build need not pay for git and tar.
  const remote = /^(?:-$|[a-z][a-z0-9+.-]*:\/\/|git@)/i.test(context)
    ? await import('./remote-context.ts')
    : undefined;
  if (remote?.isRemoteContext(context)) {
    if (context === '-' && options.file === '-')
      throw new UsageError('cannot read both the Dockerfile and the build context from stdin', {
        hint: 'Pass the context as a directory, or put the Dockerfile inside the archive on stdin.',
      });
    fetched = await remote.fetchRemoteContext(context, at.stdin);
  }
  // Temp directories of fetched contexts (the main one, named ones), removed by dispose().
  const disposers: Array<() => Promise<void>> = fetched ? [fetched.dispose] : [];
  const dispose = async () => {
    for (const d of disposers.splice(0)) await d();
  };
  try {
    return await resolveWithContext(options, at, fetched, disposers, dispose);
  } catch (error) {
    await dispose();
    throw error;
  }
}

async function resolveWithContext(
  options: BuildOptions,
  at: Surroundings,
  fetched: RemoteContext | undefined,
  disposers: Array<() => Promise<void>>,
  dispose: () => Promise<void>,
): Promise<ResolvedBuildOptions> {
  const contextDir = fetched?.dir ?? path.resolve(at.cwd, options.context ?? '.');
  const st = await stat(contextDir).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new InputError(`unable to prepare context: path "${options.context ?? '.'}" not found`, {
      hint: 'Pass the build context directory as the last argument, e.g. `tbuild build -t app .`, or - to read it from stdin.',
    });
  }
  const dockerfile =
    options.dockerfile !== undefined
      ? { path: path.join(contextDir, 'Dockerfile'), text: options.dockerfile }
      : fetched?.dockerfileText !== undefined
        ? { path: path.join(contextDir, 'Dockerfile'), text: fetched.dockerfileText }
        : await readDockerfile(options.file, contextDir, fetched ? contextDir : at.cwd, at);
  const buildArgs = { ...options.buildArgs };
  const platforms = options.platform ? parseTargetPlatforms(options.platform) : [hostPlatform()];
  const tags = [...(options.tags ?? [])];
  // Typed callers may still pass any string: checked as the CLI's flag is.
  const allow = parseAllow(options.allow);
  return Object.freeze({
    contextDir,
    dockerfilePath: dockerfile.path,
    dockerfileName: displayName(dockerfile.path, contextDir, options.file),
    dockerfileText: dockerfile.text,
    dockerignoreText: readFirstIgnoreFile(ignoreFilesOf(dockerfile.path, contextDir)),
    tags,
    buildArgs,
    target: options.target,
    platform: platforms[0]!,
    platforms,
    buildPlatform: hostPlatform(),
    noCache: options.noCache ?? false,
    noCacheFilter: [...(options.noCacheFilter ?? [])],
    cacheFrom: (options.cacheFrom ?? []).map((spec) => absoluteCachePaths(spec, at.cwd)),
    cacheTo: (options.cacheTo ?? []).map((spec) => absoluteCachePaths(spec, at.cwd)),
    pull: options.pull ?? false,
    outputs: resolveOutputs(options.outputs ?? [], options.push ?? false, tags),
    load: options.load ?? false,
    iidfile: options.iidfile && path.resolve(at.cwd, options.iidfile),
    metadataFile: options.metadataFile && path.resolve(at.cwd, options.metadataFile),
    secrets: (options.secrets ?? []).map((s) =>
      'file' in s
        ? { id: s.id, file: path.resolve(at.cwd, s.file) }
        : { id: s.id, ...(at.env[s.env] !== undefined ? { value: at.env[s.env] } : {}) },
    ),
    sshAgents: { ...options.sshAgents },
    allow,
    network: checkNetwork(options.network ?? 'default', allow),
    labels: { ...options.labels },
    sourceDateEpoch: sourceDateEpoch(buildArgs.SOURCE_DATE_EPOCH ?? at.env.SOURCE_DATE_EPOCH),
    namedContexts: await resolveNamedContexts(options.buildContexts ?? {}, at.cwd, disposers),
    extraHosts: [...(options.extraHosts ?? [])],
    shmSize: options.shmSize,
    ulimits: [...(options.ulimits ?? [])],
    dispose,
  });
}

function needStdin(at: Surroundings, what: string): Readable {
  if (at.stdin === undefined)
    throw new UsageError(`${what} is "-", but this build has no standard input`, {
      hint: 'Give a path, or pass stdin to the build.',
    });
  return at.stdin;
}

/** How errors name the Dockerfile: as the user gave it with -f, else as docker does (`Dockerfile`). */
function displayName(file: string, contextDir: string, given: string | undefined): string {
  if (given && given !== '-') return given;
  const rel = path.relative(contextDir, file);
  return rel.startsWith('..') ? file : rel;
}

/** A local cache's `src`/`dest` from the caller's working directory. */
function absoluteCachePaths(spec: CacheSpec, cwd: string): CacheSpec {
  if (spec.type !== 'local') return spec;
  const attrs = { ...spec.attrs };
  for (const name of ['src', 'dest'] as const)
    if (attrs[name] !== undefined) attrs[name] = path.resolve(cwd, attrs[name]);
  return { type: spec.type, attrs };
}

function checkNetwork(network: string, allow: readonly Entitlement[]): NetworkMode {
  if (!['default', 'host', 'none'].includes(network))
    throw new UsageError(`invalid --network "${network}"`, { hint: 'Use default, host or none.' });
  // As buildx: host networking lets every RUN reach the host's loopback services.
  if (network === 'host' && !allow.includes('network.host'))
    throw new UsageError('--network=host needs the network.host entitlement', {
      hint: 'Add --allow network.host if you trust this Dockerfile with the host network.',
    });
  return network as NetworkMode;
}

function sourceDateEpoch(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const epoch = Number(text);
  if (!Number.isInteger(epoch))
    throw new UsageError(`invalid SOURCE_DATE_EPOCH "${text}"`, {
      hint: 'Use whole seconds since 1970, e.g. $(git log -1 --format=%ct).',
    });
  return epoch;
}

/**
 * Outputs as they run: image, registry, docker and oci outputs without names take the tags
 * (buildx passes -t to the oci exporter too, so index.json names the image),
 * and `push` makes the image output push (or adds one for the tags).
 */
function resolveOutputs(
  given: readonly OutputSpec[],
  push: boolean,
  tags: readonly string[],
): OutputSpec[] {
  const outputs = given.map((o) =>
    o.names.length === 0 && ['image', 'registry', 'docker', 'oci'].includes(o.type)
      ? { ...o, names: [...tags] }
      : { ...o, names: [...o.names] },
  );
  if (push) {
    const image = outputs.find((o) => o.type === 'image' || o.type === 'registry');
    if (image) image.push = true;
    else {
      if (tags.length === 0)
        throw new UsageError('--push needs an image name', { hint: 'Add -t registry/name:tag.' });
      outputs.push({ type: 'image', names: [...tags], push: true, attrs: {} });
    }
  }
  for (const o of outputs) {
    checkOutputAttributes(o);
    if ((o.type === 'image' || o.type === 'registry') && o.names.length === 0)
      throw new UsageError(`--output type=${o.type} needs name= (or -t)`, {
        hint: 'For example --output type=image,name=localhost:5000/app:1,push=true.',
      });
  }
  return outputs;
}

async function readDockerfile(
  file: string | undefined,
  contextDir: string,
  base: string,
  at: Surroundings,
): Promise<{ path: string; text: string }> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of needStdin(at, 'the Dockerfile')) chunks.push(chunk as Buffer);
    return {
      path: path.join(contextDir, 'Dockerfile'),
      text: Buffer.concat(chunks).toString('utf8'),
    };
  }
  const dockerfilePath = file ? path.resolve(base, file) : path.join(contextDir, 'Dockerfile');
  try {
    return { path: dockerfilePath, text: await readFile(dockerfilePath, 'utf8') };
  } catch (error) {
    throw new InputError(
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
