/**
 * One build, end to end: Dockerfile → LLB (frontend) → solve (engine worker on the store)
 * → image in the store → outputs. Ctrl-C cancels cleanly: containers are killed and
 * mounts removed before the process exits.
 */
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dockerfileToLLB } from '../../frontend/index.ts';
import { openStore } from '../../cache/index.ts';
import { createImageProvider } from '../../engine/images.ts';
import { createWorker } from '../../engine/worker.ts';
import { commitImage } from '../../engine/commit-image.ts';
import { createSolver } from '../../solver/index.ts';
import type { RegistryClient } from '../../registry/types.ts';
import type { ProgressEvent } from '../../shared/progress.ts';
import { errorSources } from '../errors.ts';
import type { UserBuildOptions } from './options.ts';
import { prepareBuild, type PreparedBuild } from './prepare.ts';
import { writeOutputs } from './write-outputs.ts';
import { openRenderer } from './renderer.ts';
import type { Executor } from '../../exec/types.ts';
import { readdir } from 'node:fs/promises';
import path from 'node:path';

export interface BuildOutcome {
  imageId?: string;
  manifestDigest?: string;
}

/** Build; `prepared` is prepareBuild(user) when the caller started it early. */
export async function runBuild(
  user: UserBuildOptions,
  prepared?: PreparedBuild,
): Promise<BuildOutcome> {
  const ready = prepared ?? (await prepareBuild(user));
  try {
    return await buildPrepared(user, ready);
  } finally {
    await ready.options.dispose();
  }
}

async function buildPrepared(
  user: UserBuildOptions,
  { options, dockerignore, listing }: PreparedBuild,
): Promise<BuildOutcome> {
  const store = await openStore(options.root ? { root: options.root } : {});
  let registry: RegistryClient | undefined;
  // Loaded only when a registry is needed: undici alone costs tens of milliseconds.
  const getRegistry = async (): Promise<RegistryClient> => {
    const [{ createRegistryClient }, { loadCredentialStore }] = await Promise.all([
      import('../../registry/client.ts'),
      import('../../registry/credentials.ts'),
    ]);
    return (registry ??= createRegistryClient({
      insecureRegistries: options.insecureRegistries,
      credentials: await loadCredentialStore(),
    }));
  };
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const renderer = await openRenderer(options.dryRun ? 'quiet' : options.progress, process.stderr);
  const emit = (event: ProgressEvent) => renderer.sink(event);
  const started = Date.now();
  let ok = false;
  try {
    const images = createImageProvider({ store, registry: getRegistry });
    const dockerfileName = displayDockerfile(options.dockerfilePath, options.contextDir, user.file);
    errorSources.set(dockerfileName, options.dockerfileText);
    const lowered = await dockerfileToLLB(
      options.dockerfileText,
      {
        buildArgs: { ...options.buildArgs },
        ...(options.target !== undefined ? { target: options.target } : {}),
        platform: options.platform,
        buildPlatform: options.buildPlatform,
        dockerignore,
        noCache: options.noCache,
        noCacheFilter: [...options.noCacheFilter],
        pull: options.pull,
        labels: { ...options.labels },
        namedContexts: { ...options.namedContexts },
        extraHosts: [...options.extraHosts],
        ulimits: [...options.ulimits],
        ...(options.shmSize !== undefined ? { shmSize: options.shmSize } : {}),
        file: dockerfileName,
        ...(options.sourceDateEpoch !== undefined
          ? { sourceDateEpoch: options.sourceDateEpoch }
          : {}),
      },
      {
        async resolve(ref, platform) {
          const image = await images.resolve(ref, platform, options.pull);
          return { ref: image.ref, config: image.config };
        },
      },
    );
    for (const message of options.warnings) emit({ type: 'warning', time: Date.now(), message });
    for (const warning of lowered.warnings)
      emit({
        type: 'warning',
        time: Date.now(),
        message: warning.message,
        location: warning.location,
      });
    if (options.dryRun) {
      const { printDryRun } = await import('../commands/build-dry-run.ts');
      await printDryRun(lowered, options.format, (s) => process.stdout.write(s));
      ok = true;
      return {};
    }
    emit({ type: 'build.started', time: started, target: options.target });
    const stateDir = path.join(store.root, 'runc');
    // Containers of a killed build keep running until someone stops them: this build does.
    await cleanupStaleContainers(stateDir);
    const worker = createWorker(
      {
        store,
        executor: lazyRuncExecutor(stateDir),
        images,
        localDirs: {
          context: options.contextDir,
          ...Object.fromEntries(
            Object.values(options.namedContexts).flatMap((c) =>
              c.type === 'local' ? [[c.source, c.dir]] : [],
            ),
          ),
        },
        ...(listing ? { listings: { context: listing } } : {}),
        secrets: [...options.secrets],
        sshAgents: { ...options.sshAgents },
        onProgress: emit,
        defaultNetwork: options.network === 'none' ? 'none' : 'host',
      },
      lowered.definition,
    );
    const solved = await createSolver().solve(lowered.definition, worker, {
      parallelism: options.maxParallelism ?? availableParallelism(),
      noCache: options.noCache,
      signal: abort.signal,
      onProgress: emit,
    });
    await worker.flush();
    const committed = await task(emit, 'exporting to image', () =>
      commitImage(store, solved.result, lowered.image, {
        ociMediaTypes: false,
        ...(options.sourceDateEpoch !== undefined
          ? { sourceDateEpoch: options.sourceDateEpoch }
          : {}),
      }),
    );
    await writeOutputs({
      store,
      options,
      committed,
      emit,
      registry: getRegistry,
      signal: abort.signal,
    });
    const imageId = committed.config.descriptor.digest;
    if (options.iidfile) await writeFile(options.iidfile, imageId);
    if (options.metadataFile) {
      const metadata = {
        'containerimage.digest': committed.manifest.descriptor.digest,
        'containerimage.config.digest': imageId,
        'containerimage.descriptor': committed.manifest.descriptor,
        ...(options.tags.length ? { 'image.name': options.tags.join(',') } : {}),
      };
      await writeFile(options.metadataFile, JSON.stringify(metadata, null, 2) + '\n');
    }
    if (options.quiet) process.stdout.write(imageId + '\n');
    ok = true;
    return { imageId, manifestDigest: committed.manifest.descriptor.digest };
  } finally {
    listing?.cancel();
    emit({ type: 'build.completed', time: Date.now(), durationMs: Date.now() - started, ok });
    renderer.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await registry?.close();
    store.close();
  }
}

/** Run work outside the graph as a progress task. */
export async function task<T>(
  emit: (e: ProgressEvent) => void,
  name: string,
  fn: () => Promise<T>,
): Promise<T> {
  const id = name.replace(/\W+/g, '-');
  const start = Date.now();
  emit({ type: 'task.started', time: start, id, name });
  const result = await fn();
  emit({ type: 'task.completed', time: Date.now(), id, name, durationMs: Date.now() - start });
  return result;
}

/** How errors name the Dockerfile: as the user gave it with -f, else as docker does (`Dockerfile`). */
function displayDockerfile(file: string, contextDir: string, given: string | undefined): string {
  if (given && given !== '-') return given;
  const rel = path.relative(contextDir, file);
  return rel.startsWith('..') ? file : rel;
}

/** The runc executor, loaded when the first container runs (a cached build runs none). */
function lazyRuncExecutor(stateDir: string): Executor {
  let executor: Promise<Executor> | undefined;
  return {
    async run(spec, io, signal) {
      executor ??= import('../../exec/runc.ts').then((m) => m.createRuncExecutor({ stateDir }));
      return (await executor).run(spec, io, signal);
    },
  };
}

/**
 * Containers of a killed build keep running until someone stops them: this build does.
 * Only when runc state is left over is the exec module loaded to clean it.
 */
async function cleanupStaleContainers(stateDir: string): Promise<void> {
  const leftovers = await Promise.all(
    ['runc', 'bundles'].map((d) => readdir(path.join(stateDir, d)).catch(() => [] as string[])),
  );
  if (leftovers.every((names) => names.length === 0)) return;
  await (await import('../../exec/runc.ts')).cleanupStaleContainers(stateDir);
}
