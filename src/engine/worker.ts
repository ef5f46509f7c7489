/**
 * The solver's Worker for LLB: one handler per op type, the result cache on the store,
 * and content checksums for keys that depend on file contents (COPY from the context).
 */
import path from 'node:path';
import { warmMountHelper } from '../exec/mount-helper.ts';
import type { Definition, Digest, Op, Vertex } from '../llb/types.ts';
import { digestOf } from '../shared/digest.ts';
import type { CacheMap, OpHandler, Worker } from '../solver/types.ts';
import { checksumPaths, openContextCache } from './context/index.ts';
import { openScope } from './mounts.ts';
import { httpSourceHandler, imageSourceHandler, localSourceHandler } from './ops/source.ts';
import { canCopyIncrementally } from './file/incremental-eligible.ts';
import { createResultCache } from './result-cache.ts';
import type { EngineOptions, Ref } from './types.ts';
import { lazyModule } from '../shared/lazy-module.ts';
import { takeLayerXattrs } from './ops/new-snapshot.ts';

const loadImageExporter = lazyModule(() => import('../exporter/image.ts'));
const loadGitOp = lazyModule(() => import('./ops/git.ts'));
const loadExecOp = lazyModule(() => import('./ops/exec.ts'));
const loadFileOp = lazyModule(() => import('./ops/file.ts'));
const loadMergeOp = lazyModule(() => import('./ops/merge.ts'));

export interface EngineWorker extends Worker<Ref> {
  /** Persist what was learnt (the stat cache). */
  flush(): Promise<void>;
}

/**
 * A handler whose module loads on first use. Op implementations (runc, overlay, COPY,
 * tar) are imported only when an op runs: a fully cached build never loads them.
 */
function lazyHandler(load: () => Promise<OpHandler<Ref>>): OpHandler<Ref> {
  let handler: Promise<OpHandler<Ref>> | undefined;
  const get = () => (handler ??= load());
  return {
    cacheMap: async (ctx) => (await get()).cacheMap(ctx),
    exec: async (ctx, inputs, previous) => (await get()).exec(ctx, inputs, previous),
  };
}

/** A worker for one Definition (handlers look at their inputs' op types). */
export function createWorker(engine: EngineOptions, definition: Definition): EngineWorker {
  const contexts = engine.contexts ?? openContextCache(path.join(engine.store.root, 'stat-cache'));
  const describe = (digest: Digest) => definition.metadata[digest]?.description ?? digest;

  const imageLayers = rootfsChain(definition);
  /** What the ops that write layers see: which of them make the image's layers. */
  const layerEngine: EngineOptions = { ...engine, isImageLayer: (d) => imageLayers.has(d) };
  /** The export needs a new layer's diff ID: hash it while the steps after it run. */
  const prehash = (results: readonly Ref[]): void => {
    const made = results[0];
    if (made?.kind !== 'snapshot') return;
    const xattrs = takeLayerXattrs(made);
    void loadImageExporter()
      .then(({ prehashLayer }) => prehashLayer(engine.store, made.id, xattrs))
      .catch(() => undefined);
  };

  const isLocal = (vertex: Vertex, index: number): boolean => {
    const input = vertex.inputs[index];
    const op = input ? definition.vertices[input.digest]?.op : undefined;
    return op?.type === 'source' && op.source.type === 'local';
  };

  /** Inputs that are the local context enter the key by the content of the paths used. */
  const contentDeps = (vertex: Vertex): CacheMap['deps'] => {
    const selectors = vertex.inputs.map(() => [] as string[]);
    const op = vertex.op;
    if (op.type === 'file') {
      for (const a of op.actions)
        if (a.action === 'copy' && a.source !== null) selectors[a.source]?.push(a.src);
      if (op.base !== null) selectors[op.base]?.push('/');
    } else if (op.type === 'exec') {
      for (const m of op.mounts) if (m.input !== null) selectors[m.input]?.push(m.selector ?? '/');
    } else {
      selectors.forEach((s) => s.push('/'));
    }
    return selectors.map((s, i) =>
      isLocal(vertex, i) ? { contentSelectors: s.length ? s : ['/'] } : undefined,
    );
  };

  /** A COPY of one context path, which file/incremental.ts may update in place. */
  const copiesFromContextIncrementally = (vertex: Vertex): boolean => {
    const op = vertex.op;
    if (op.type !== 'file' || op.actions.length !== 1) return false;
    const action = op.actions[0]!;
    return (
      action.action === 'copy' && canCopyIncrementally(action) && isLocal(vertex, action.source!)
    );
  };

  const warmRunsAfter = runWarmer(engine, definition);

  const opHandler = (op: Op, vertex: Vertex, digest: Digest): OpHandler<Ref> => {
    const keyed = (run: OpHandler<Ref>['exec'], incremental = false): OpHandler<Ref> => ({
      async cacheMap() {
        return { digest, deps: contentDeps(vertex), ...(incremental && { incremental }) };
      },
      async exec(ctx, inputs, previous) {
        // The first step that runs starts the mount helper (~4 ms for Perl to start), so
        // that it is ready by this step's first mount, while the spawns below go on.
        warmMountHelper();
        warmRunsAfter(digest);
        const results = await run(ctx, inputs, previous);
        if (imageLayers.has(digest)) prehash(results);
        return results;
      },
    });
    switch (op.type) {
      case 'source':
        switch (op.source.type) {
          case 'image':
            return imageSourceHandler(engine, op.source);
          case 'local':
            return localSourceHandler(engine, op.source, contexts);
          case 'http':
            return httpSourceHandler(engine, op.source);
          case 'git': {
            const git = op.source;
            return lazyHandler(async () => (await loadGitOp()).gitSourceHandler(engine, git));
          }
        }
        break;
      case 'exec':
        return keyed(async (ctx, inputs) =>
          (await loadExecOp()).runExecOp(
            layerEngine,
            op,
            inputs,
            ctx,
            describe(digest),
            vertex.platform,
          ),
        );
      case 'file':
        return keyed(
          async (ctx, inputs, previous) =>
            (await loadFileOp()).runFileOp(
              layerEngine,
              op,
              inputs,
              ctx,
              describe(digest),
              previous,
            ),
          copiesFromContextIncrementally(vertex),
        );
      case 'merge':
        return keyed(async (ctx, inputs) =>
          (await loadMergeOp()).runMergeOp(engine, inputs, ctx, describe(digest)),
        );
    }
  };

  return {
    handler: (vertex, digest) => opHandler(vertex.op, vertex, digest),
    cache: createResultCache(engine.store),
    async contentChecksum(result, selectors, signal) {
      if (result.kind === 'local') return result.context.checksum(selectors, signal);
      if (result.kind === 'empty') return digestOf({ empty: true, selectors });
      const scope = openScope(engine.store);
      try {
        const root = await scope.mountReadOnly(result);
        return checksumPaths(await contexts.scan(root, signal), selectors);
      } finally {
        await scope.close();
      }
    },
    describeContentChange: (before, after) => contexts.describeChange(before, after),
    flush: () => contexts.flush(),
  };
}

/**
 * The vertices whose results are the layers of the definition's result: from the root,
 * down the chain of root filesystems (a file op's base, an exec's `/` mount).
 */
function rootfsChain(definition: Definition): Set<Digest> {
  const chain = new Set<Digest>();
  let input = definition.root;
  while (input && !chain.has(input.digest)) {
    chain.add(input.digest);
    const vertex: Vertex | undefined = definition.vertices[input.digest];
    const op = vertex?.op;
    let next: number | null = null;
    if (op?.type === 'file') next = op.base;
    else if (op?.type === 'exec') next = op.mounts.find((m) => m.dest === '/')?.input ?? null;
    input = next === null ? null : (vertex?.inputs[next] ?? null);
  }
  return chain;
}

/**
 * When a step runs, the RUN steps after it will most likely run too (their parent changed):
 * load the RUN step's code and the executor, and have it set up an isolated network
 * (~70 ms of namespace and slirp4netns start-up), while this step runs, not when that RUN
 * starts. A cached build loads none of it. Once per build.
 */
/** How a RUN step's network is set up (the executor's names). */
type RunNetwork = 'isolated' | 'host' | 'none';

function runWarmer(engine: EngineOptions, definition: Definition): (digest: Digest) => void {
  let warmed = false;
  let dependents: Map<Digest, Digest[]> | undefined;
  const networkOf = (digest: Digest): RunNetwork | undefined => {
    const op = definition.vertices[digest]?.op;
    if (op?.type !== 'exec') return undefined;
    return op.network === 'default' ? (engine.defaultNetwork ?? 'isolated') : op.network;
  };
  return (digest) => {
    if (warmed) return;
    if (!dependents) {
      dependents = new Map();
      for (const [child, vertex] of Object.entries(definition.vertices) as [Digest, Vertex][])
        for (const input of vertex.inputs) {
          const list = dependents.get(input.digest) ?? [];
          list.push(child);
          dependents.set(input.digest, list);
        }
    }
    const seen = new Set<Digest>();
    const queue = [...(dependents.get(digest) ?? [])];
    let network: RunNetwork | undefined;
    for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
      if (seen.has(next)) continue;
      seen.add(next);
      const found = networkOf(next);
      if (found !== undefined && network !== 'isolated') network = found;
      if (network === 'isolated') break;
      queue.push(...(dependents.get(next) ?? []));
    }
    if (network === undefined) return;
    warmed = true;
    loadExecOp().catch(() => undefined); // its own load reports a failure
    engine.executor.warm?.(network);
  };
}
