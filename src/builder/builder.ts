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
import { commitImage } from '../engine/commit-image.ts';
import { createImageProvider } from '../engine/images.ts';
import { runImage, type RunImageOptions } from '../engine/run-image.ts';
import { createWorker } from '../engine/worker.ts';
import { openContextCache, type ContextCache } from '../engine/context/index.ts';
import type { CheckResult, FrontendWarning, LowerResult } from '../frontend/index.ts';
import type { RegistryClient } from '../registry/types.ts';
import { UsageError, withSource } from '../shared/errors.ts';
import type { ImageConfig } from '../shared/oci.ts';
import { noProgress, type ProgressSink } from '../shared/progress.ts';
import { createSolver, type KeyFacts, type KeyHistory } from '../solver/index.ts';
import { formatPlatform } from '../shared/platform.ts';
import { cleanupStaleContainers, lazyRuncExecutor } from './containers.ts';
import { checkPrepared, lowerDockerfile } from './lower.ts';
import { nameImage } from './name-image.ts';
import { writeOutputs } from './outputs/write-outputs.ts';
import { prepareBuild, releasePrepared, type PreparedBuild } from './prepare.ts';
import { buildMetadata, recordSteps, writeResultFiles } from './result.ts';
import { task } from './task.ts';
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
      });
    })());
  const stateDir = path.join(store.root, 'runc');
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
    checkHost: () =>
      (hostChecked ??= assertBuildHost().catch((error: unknown) => {
        hostChecked = undefined;
        throw error;
      })),
    stateDir,
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
  stateDir: string;
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
  if (options.platforms.length > 1)
    throw new UsageError(`multi-platform builds are not supported yet`, {
      hint: 'Build one platform at a time.',
    });
  const signal = run.signal ?? new AbortController().signal;
  const recorder = recordSteps(run.onProgress ?? noProgress);
  const emit: ProgressSink = recorder.sink;
  const started = Date.now();
  let ok = false;
  // The host check (a few PATH lookups, ~ms) runs while the Dockerfile is lowered, and is
  // awaited before anything runs; awaited later, its rejection must not go unhandled first.
  const hostReady = session.checkHost();
  hostReady.catch(() => undefined);
  try {
    const images = createImageProvider({ store, registry: session.registry });
    // Build-check warnings show even when lowering fails (`# check=error=true` does so).
    const found: FrontendWarning[] = [];
    let lowered: LowerResult;
    try {
      lowered = await lowerDockerfile(prepared, images, found);
    } finally {
      for (const warning of found)
        emit({
          type: 'warning',
          time: Date.now(),
          message: warning.message,
          rule: warning.rule,
          location: warning.location,
        });
    }
    await hostReady;
    emit({ type: 'build.started', time: started, target: options.target });
    await session.cleanup();
    if (run.changedPaths !== undefined) session.contexts.noteChanges(run.changedPaths);
    const worker = createWorker(
      {
        store,
        executor: lazyRuncExecutor(session.stateDir),
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
        defaultNetwork: options.network === 'none' ? 'none' : 'host',
      },
      lowered.definition,
    );
    const solved = await session.solver.solve(lowered.definition, worker, {
      parallelism: session.parallelism,
      noCache: options.noCache,
      signal,
      onProgress: emit,
      // Steps are remembered per Dockerfile and platform, to say why one misses next time.
      history: {
        scope: `${options.dockerfilePath}\0${formatPlatform(options.platform)}`,
        store: keyHistoryOf(store),
      },
    });
    await worker.flush();
    const committed = await task(emit, 'exporting to image', async (status) => {
      const image = await status('exporting layers', () =>
        commitImage(store, solved.result, lowered.image, {
          ociMediaTypes: false,
          ...(options.sourceDateEpoch !== undefined
            ? { sourceDateEpoch: options.sourceDateEpoch }
            : {}),
        }),
      );
      await nameImage(store, options, image, status);
      return image;
    });
    await writeOutputs({
      store,
      options,
      committed,
      emit,
      registry: session.registry,
      signal,
      stdout: run.stdout,
    });
    const metadata = buildMetadata(committed, options);
    await writeResultFiles(options, metadata);
    ok = true;
    const result: BuildResult = {
      imageId: metadata['containerimage.config.digest'],
      manifestDigest: metadata['containerimage.digest'],
      metadata,
      image: {
        layers: committed.layers.length,
        size: committed.layers.reduce((sum, l) => sum + l.size, committed.config.descriptor.size),
      },
      warnings: recorder.warnings(),
      steps: recorder.steps(),
    };
    builtSnapshots.set(result, committed.snapshot);
    return result;
  } finally {
    emit({ type: 'build.completed', time: Date.now(), durationMs: Date.now() - started, ok });
  }
}
