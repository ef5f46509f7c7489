/**
 * The build API: `createBuilder()` opens the store once, keeps one solver and one registry
 * client, and runs builds: Dockerfile → LLB (frontend) → solve (engine worker on the
 * store) → image in the store → outputs. The caller owns signals, streams and rendering:
 * nothing here touches the process.
 */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { openStore } from '../cache/index.ts';
import { defaultStoreRoot } from '../cache/default-root.ts';
import { assertBuildHost } from '../doctor/index.ts';
import type { SnapshotId, Store } from '../cache/types.ts';
import { commitImage, type CommittedImage } from '../engine/commit-image.ts';
import { commitIndex, type CommittedIndex } from '../engine/commit-index.ts';
import { createImageProvider } from '../engine/images.ts';
import { runImage, type RunImageOptions } from '../engine/run-image.ts';
import { createWorker } from '../engine/worker.ts';
import { prepareEmulation, probePlatform, type PlatformSupport } from '../exec/emulation.ts';
import { runtimeStateDir } from '../exec/runtime-dir.ts';
import { watchStorage } from './storage.ts';
import { openContextCache, type ContextCache } from '../engine/context/index.ts';
import type { CheckResult, FrontendWarning, LowerResult } from '../frontend/index.ts';
import type { RegistryClient } from '../registry/types.ts';
import { withSource } from '../shared/errors.ts';
import type { ImageConfig } from '../shared/oci.ts';
import { noProgress, type ProgressSink } from '../shared/progress.ts';
import { createSolver, type KeyFacts, type KeyHistory } from '../solver/index.ts';
import { formatPlatform, type Platform } from '../shared/platform.ts';
import { cleanupStaleContainers, lazyRuncExecutor } from './containers.ts';
import type { Executor } from '../exec/types.ts';
import { checkPrepared, lowerDockerfile } from './lower.ts';
import { mergeDefinitions, runPlatforms, solvePlatforms } from './solve-platforms.ts';
import { nameImage, nameIndex } from './name-image.ts';
import { refuseMultiPlatformLoad, writeIndexOutputs } from './outputs/index-outputs.ts';
import { writeOutputs } from './outputs/write-outputs.ts';
import { prepareBuild, releasePrepared, type PreparedBuild } from './prepare.ts';
import { buildMetadata, indexMetadata, recordSteps, writeResultFiles } from './result.ts';
import { task } from './task.ts';
import {
  exportCaches,
  inlineCacheValue,
  InlineCacheKey,
  loadCaches,
  withImportedCaches,
  type CacheEnvironment,
  type LoadedCache,
} from '../remote-cache/index.ts';
import type { Ref } from '../engine/types.ts';
import type { Definition } from '../llb/types.ts';
import type { Digest } from '../shared/digest.ts';
import type { BuilderOptions, BuildOptions, BuildResult, BuildRun } from './types.ts';

export interface Builder {
  /** The store directory this builder uses. */
  readonly root: string;
  /**
   * Run one build. `options` may be a PreparedBuild (prepareBuild), which lets a caller
   * start the context listing before this module loads. Rejects with a TbuildError whose
   * `source` holds the Dockerfile text when the error points into it.
   */
  build(options: BuildOptions | PreparedBuild, run?: BuildRun): Promise<BuildResult>;
  /** Lower the Dockerfile without running anything: the graph and image config (dry run). */
  lower(options: BuildOptions | PreparedBuild, run?: BuildRun): Promise<LowerResult>;
  /**
   * Run a built image's command in a container (host network), as `docker run --rm`:
   * resolves with its exit code once it exits, or once `signal` stops it (STOPSIGNAL,
   * then SIGKILL after `stopTimeoutMs`).
   */
  runImage(image: BuildResult, options: RunImageOptions): Promise<number>;
  /**
   * Run the build checks without building (`docker build --check`): the warnings, and the
   * error that stopped the check if any (with the Dockerfile text attached).
   */
  check(options: BuildOptions | PreparedBuild, run?: BuildRun): Promise<CheckResult>;
  /** Release the store and the registry client. Builds still running fail. */
  close(): Promise<void>;
}

export type { RunImageOptions } from '../engine/run-image.ts';

/** The snapshot behind each result this builder returned, for runImage. */
const builtSnapshots = new WeakMap<BuildResult, SnapshotId | null>();

export async function createBuilder(options: BuilderOptions = {}): Promise<Builder> {
  const env = options.env ?? {};
  const root = options.root ?? defaultStoreRoot(env);
  const store = await openStore({ root });
  const solver = createSolver();
  const parallelism = options.parallelism ?? availableParallelism();
  let registry: Promise<RegistryClient> | undefined;
  // Loaded only when a registry is needed: undici alone costs tens of milliseconds.
  const getRegistry = (): Promise<RegistryClient> =>
    (registry ??= (async () => {
      const [{ createRegistryClient }, { loadCredentialStore }] = await Promise.all([
        import('../registry/client.ts'),
        import('../registry/credentials.ts'),
      ]);
      return createRegistryClient({
        insecureRegistries: [...(options.insecureRegistries ?? [])],
        credentials: options.credentials ?? (await loadCredentialStore(env)),
        proxyEnv: env,
      });
    })());
  // runc's state: under $XDG_RUNTIME_DIR in a rootless build, else in the store.
  const stateDir = runtimeStateDir(store.root);
  const probes = new Map<string, Promise<PlatformSupport>>();
  let cleaned: Promise<void> | undefined;
  let hostChecked: Promise<void> | undefined;
  const session: BuildSession = {
    store,
    // One for the builder's life: the stat cache stays loaded, scanned trees are remembered.
    contexts: openContextCache(path.join(store.root, 'stat-cache')),
    registry: getRegistry,
    // Containers a killed process left behind are stopped once, before the first build.
    cleanup: () => (cleaned ??= cleanupStaleContainers(stateDir)),
    // Once per builder; a failure is not kept, so a long-lived builder sees a fix.
    probePlatform: (platform) => {
      const key = formatPlatform(platform);
      let probe = probes.get(key);
      if (!probe) {
        // A failure is not kept: a long-lived builder sees qemu-user-static once installed.
        probe = probePlatform(platform).then((support) => {
          if (support.mode === undefined) probes.delete(key);
          return support;
        });
        probes.set(key, probe);
      }
      return probe;
    },
    checkHost: () =>
      (hostChecked ??= assertBuildHost().catch((error: unknown) => {
        hostChecked = undefined;
        throw error;
      })),
    stateDir,
    executor: lazyRuncExecutor(stateDir),
    parallelism,
    solver,
  };

  return {
    root: store.root,
    async build(given, run = {}) {
      // With a watcher's changes, the engine reads its remembered tree: no listing needed.
      const prepared = await toPrepared(given, run, run.changedPaths === undefined);
      try {
        return await runBuild(session, prepared, run);
      } catch (error) {
        throw withSource(error, sourceOf(prepared));
      } finally {
        await releasePrepared(prepared);
      }
    },
    async lower(given, run = {}) {
      const prepared = await toPrepared(given, run, false);
      try {
        return await lowerDockerfile(
          prepared,
          createImageProvider({ store, registry: getRegistry }),
        );
      } catch (error) {
        throw withSource(error, sourceOf(prepared));
      } finally {
        await releasePrepared(prepared);
      }
    },
    async runImage(image, options) {
      const snapshot = builtSnapshots.get(image);
      if (snapshot === undefined)
        throw new TypeError('runImage takes a result that this builder returned from build()');
      const config = await store.blobs.readJson<ImageConfig>(image.imageId);
      return runImage(store, lazyRuncExecutor(stateDir), { snapshot, config }, options);
    },
    async check(given, run = {}) {
      const prepared = await toPrepared(given, run, false);
      try {
        const result = await checkPrepared(
          prepared,
          createImageProvider({ store, registry: getRegistry }),
        );
        return result.error
          ? { ...result, error: withSource(result.error, sourceOf(prepared)) }
          : result;
      } finally {
        await releasePrepared(prepared);
      }
    },
    async close() {
      const client = await registry?.catch(() => undefined);
      await client?.close();
      await session.executor.close?.();
      store.close();
    },
  };
}

function toPrepared(
  given: BuildOptions | PreparedBuild,
  run: BuildRun,
  listing = true,
): Promise<PreparedBuild> {
  return 'kind' in given && given.kind === 'prepared'
    ? Promise.resolve(given)
    : prepareBuild(given as BuildOptions, run, { listing });
}

/** The store's key history as the solver reads it (the store keeps the facts as JSON). */
function keyHistoryOf(store: Store): KeyHistory {
  return {
    get(identity) {
      const json = store.keyHistory.get(identity);
      return json === undefined ? undefined : (JSON.parse(json) as KeyFacts);
    },
    put: (identity, facts) => store.keyHistory.put(identity, JSON.stringify(facts)),
  };
}

function sourceOf(prepared: PreparedBuild) {
  return { file: prepared.options.dockerfileName, text: prepared.options.dockerfileText };
}

/** What every build of one builder shares. */
interface BuildSession {
  store: Store;
  contexts: ContextCache;
  registry: () => Promise<RegistryClient>;
  cleanup: () => Promise<void>;
  /** Fails with what the machine lacks (runc, mount, attr…) before the build starts. */
  checkHost: () => Promise<void>;
  /** How RUN steps for a platform run here (exec/emulation.ts), probed once per builder. */
  probePlatform: (platform: Platform) => Promise<PlatformSupport>;
  stateDir: string;
  /**
   * One for the builder's life: RUN steps of every build share its network namespaces, so
   * a rebuild in watch mode finds one ready instead of starting unshare and slirp4netns.
   */
  executor: Executor;
  parallelism: number;
  solver: ReturnType<typeof createSolver>;
}

async function runBuild(
  session: BuildSession,
  prepared: PreparedBuild,
  run: BuildRun,
): Promise<BuildResult> {
  const { store } = session;
  const { options } = prepared;
  refuseMultiPlatformLoad(options);
  const signal = run.signal ?? new AbortController().signal;
  const recorder = recordSteps(run.onProgress ?? noProgress);
  const emit: ProgressSink = recorder.sink;
  const started = Date.now();
  // Read before anything is looked up in the store (the lowering resolves FROM there).
  const generation = store.generation();
  let ok = false;
  // The host check (a few PATH lookups, ~ms) runs while the Dockerfile is lowered, and is
  // awaited before anything runs; awaited later, its rejection must not go unhandled first.
  const hostReady = session.checkHost();
  hostReady.catch(() => undefined);
  // Said when the process's first mount picks a snapshotter that is not kernel overlayfs.
  const unwatchStorage = watchStorage(emit);
  const { executor } = session;
  try {
    const images = createImageProvider({
      store,
      registry: session.registry,
      onWarning: (message) => emit({ type: 'warning', time: Date.now(), message }),
    });
    // Caches are read (their configs only) while the Dockerfile is lowered.
    const caches = loadImports(session, options, emit, signal, run);
    const lowered = await lowerPlatforms(prepared, images, emit);
    const definitions = lowered.map((l) => l.definition);
    await hostReady;
    // Every platform a RUN step runs for can run here, or the build stops before any work.
    const emulation = await prepareEmulation(runPlatforms(definitions), session.probePlatform);
    emit({ type: 'build.started', time: started, target: options.target });
    await session.cleanup();
    if (run.changedPaths !== undefined) session.contexts.noteChanges(run.changedPaths);
    const engineWorker = createWorker(
      {
        store,
        executor,
        images,
        localDirs: {
          context: options.contextDir,
          ...Object.fromEntries(
            Object.values(options.namedContexts).flatMap((c) =>
              c.type === 'local' ? [[c.source, c.dir]] : [],
            ),
          ),
        },
        ...(prepared.listing ? { listings: { context: prepared.listing } } : {}),
        contexts: session.contexts,
        ...(run.changedPaths !== undefined ? { contextChanges: { remembered: true } } : {}),
        secrets: [...options.secrets],
        sshAgents: { ...options.sshAgents },
        onProgress: emit,
        emulation,
        defaultNetwork: options.network === 'default' ? 'isolated' : options.network,
      },
      definitions.length === 1 ? definitions[0]! : mergeDefinitions(definitions),
    );
    const imported = await caches;
    const worker = imported.length
      ? {
          ...engineWorker,
          cache: withImportedCaches(engineWorker.cache, store, imported, {
            emit,
            signal,
            // Only pushes: a result's layers move registry to registry, or not at all.
            lazyResults:
              !options.load &&
              options.outputs.length > 0 &&
              options.outputs.every((o) => o.push && (o.type === 'image' || o.type === 'registry')),
          }).cache,
        }
      : engineWorker;
    const keys = new Set<Digest>();
    const solved = await solvePlatforms(
      options.platforms.length === 1
        ? session.solver
        : createSolver({ parallelism: session.parallelism }),
      options.platforms.map((platform, i) => ({ platform, definition: definitions[i]! })),
      worker,
      {
        parallelism: session.parallelism,
        noCache: options.noCache,
        signal,
        emit,
        // Steps are remembered per Dockerfile and platform, to say why one misses next time.
        historyScope: (platform) => `${options.dockerfilePath}\0${formatPlatform(platform)}`,
        history: keyHistoryOf(store),
        onKeys: (solvedKeys) => {
          for (const key of solvedKeys.values()) keys.add(key as Digest);
        },
      },
    );
    // The context's stat cache and records (megabytes for a big context) are saved while
    // the image is exported, not before: nothing in the export reads them.
    const flushed = engineWorker.flush();
    flushed.catch(() => undefined); // awaited below; a failed export must not leave it unhandled
    const committed = await task(emit, 'exporting to image', async (status) => {
      const built = await Promise.all(
        solved.map(async (result, i) => ({
          platform: options.platforms[i]!,
          image: await status(exportingStatus(options.platforms, i), async () =>
            commitImage(
              store,
              result,
              await withInlineCache(options, store, keys, result, lowered[i]!.image),
              {
                ociMediaTypes: false,
                localLayers: true,
                ...(options.sourceDateEpoch !== undefined
                  ? { sourceDateEpoch: options.sourceDateEpoch }
                  : {}),
              },
            ),
          ),
        })),
      );
      if (built.length === 1) {
        await nameImage(store, options, built[0]!.image, status);
        return { kind: 'image', image: built[0]!.image } as const;
      }
      const index = await status('exporting manifest list', () => commitIndex(store, built));
      await nameIndex(store, options, index, status);
      return { kind: 'index', index } as const;
    });
    await flushed;
    const outputs = {
      store,
      options,
      emit,
      registry: session.registry,
      signal,
      stdout: run.stdout,
    };
    // The metadata names the pushed manifest, when the build pushed one.
    const produced =
      committed.kind === 'image'
        ? buildMetadata(
            (await writeOutputs({ ...outputs, committed: committed.image })) ?? committed.image,
            options,
          )
        : indexMetadata(
            (await writeIndexOutputs({ ...outputs, committed: committed.index })) ??
              committed.index,
            options,
          );
    const exported = await exportCaches(
      options.cacheTo,
      {
        store,
        keys,
        roots:
          committed.kind === 'image'
            ? [committed.image.snapshot]
            : committed.index.images.map((i) => i.image.snapshot),
      },
      cacheEnvironment(session, options, emit, signal, run),
    );
    const caching = {
      ...(exported.length ? { 'tbuild.cache.exported': exported } : {}),
      ...(imported.length ? { 'tbuild.cache.imported': imported.map((c) => c.name) } : {}),
    };
    const metadata = { ...produced, ...caching };
    await writeResultFiles(options, metadata);
    ok = true;
    const result: BuildResult = {
      imageId: metadata['containerimage.config.digest'] ?? metadata['containerimage.digest'],
      manifestDigest: metadata['containerimage.digest'],
      metadata,
      image: measureResult(committed),
      ...(committed.kind === 'index'
        ? { platforms: committed.index.images.map((i) => formatPlatform(i.platform)) }
        : {}),
      warnings: recorder.warnings(),
      steps: recorder.steps(),
      ...(definitions.every(hasOnlyLocalSources) && store.generation() === generation
        ? { repeatable: { storeGeneration: generation } }
        : {}),
    };
    builtSnapshots.set(result, committed.kind === 'image' ? committed.image.snapshot : null);
    return result;
  } finally {
    unwatchStorage();
    emit({ type: 'build.completed', time: Date.now(), durationMs: Date.now() - started, ok });
  }
}

function cacheEnvironment(
  session: BuildSession,
  options: PreparedBuild['options'],
  emit: ProgressSink,
  signal: AbortSignal,
  run: BuildRun,
): CacheEnvironment {
  return {
    registry: session.registry,
    cwd: run.cwd ?? options.contextDir,
    env: run.env ?? {},
    platform: options.platform,
    emit,
    signal,
  };
}

/** The `--cache-from` caches that could be read (none without the flag: no work at all). */
function loadImports(
  session: BuildSession,
  options: PreparedBuild['options'],
  emit: ProgressSink,
  signal: AbortSignal,
  run: BuildRun,
): Promise<LoadedCache[]> {
  if (options.cacheFrom.length === 0) return Promise.resolve([]);
  const loading = loadCaches(
    options.cacheFrom,
    cacheEnvironment(session, options, emit, signal, run),
  );
  loading.catch(() => undefined);
  return loading;
}

/** The image config with the inline cache of its layers, for `--cache-to type=inline`. */
async function withInlineCache(
  options: PreparedBuild['options'],
  store: Store,
  keys: ReadonlySet<Digest>,
  result: Ref | null,
  config: ImageConfig,
): Promise<ImageConfig> {
  const value = await inlineCacheValue(
    options.cacheTo,
    store,
    keys,
    result?.kind === 'snapshot' ? result.id : null,
  );
  return value === undefined ? config : ({ ...config, [InlineCacheKey]: value } as ImageConfig);
}

/**
 * The Dockerfile lowered once per target platform. Build-check warnings show once each,
 * and even when lowering fails (`# check=error=true` does so).
 */
async function lowerPlatforms(
  prepared: PreparedBuild,
  images: ReturnType<typeof createImageProvider>,
  emit: ProgressSink,
): Promise<LowerResult[]> {
  const found: FrontendWarning[][] = prepared.options.platforms.map(() => []);
  try {
    return await Promise.all(
      prepared.options.platforms.map((platform, i) =>
        lowerDockerfile(prepared, images, found[i], platform),
      ),
    );
  } finally {
    const seen = new Set<string>();
    for (const warning of found.flat()) {
      const key = JSON.stringify([warning.rule, warning.message, warning.location]);
      if (seen.has(key)) continue;
      seen.add(key);
      emit({
        type: 'warning',
        time: Date.now(),
        message: warning.message,
        rule: warning.rule,
        location: warning.location,
      });
    }
  }
}

function exportingStatus(platforms: readonly Platform[], i: number): string {
  return platforms.length === 1
    ? 'exporting layers'
    : `exporting layers for ${formatPlatform(platforms[i]!)}`;
}

/** What a registry stores for the result: every platform's layers and config (and index). */
function measureResult(
  committed: { kind: 'image'; image: CommittedImage } | { kind: 'index'; index: CommittedIndex },
): BuildResult['image'] {
  const images =
    committed.kind === 'image' ? [committed.image] : committed.index.images.map((i) => i.image);
  const layers = new Map<string, number>();
  let size = committed.kind === 'index' ? committed.index.descriptor.size : 0;
  for (const image of images) {
    size += image.config.descriptor.size;
    for (const layer of image.layers) layers.set(layer.digest, layer.size);
  }
  for (const layerSize of layers.values()) size += layerSize;
  return { layers: layers.size, size };
}

/**
 * Whether every source of the graph is read from this machine: the build context and
 * images (resolved in the store). An ADD of a URL or a git repository, or a named
 * context, is read again by every build, so the result may change without a local trace.
 */
function hasOnlyLocalSources(definition: Definition): boolean {
  return Object.values(definition.vertices).every(({ op }) => {
    if (op.type !== 'source') return true;
    const { source } = op;
    return source.type === 'image' || (source.type === 'local' && source.name === 'context');
  });
}
