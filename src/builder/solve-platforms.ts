/**
 * Solving one graph per target platform. The graphs share a worker (so a result cache)
 * and a solver, so a vertex two platforms both need — the context, a stage built `FROM
 * --platform=$BUILDPLATFORM`, any step whose op, inputs and platform are equal — runs once
 * and both wait for it; its progress is reported once.
 */
import type { Definition } from '../llb/types.ts';
import type { Ref } from '../engine/types.ts';
import type { Platform } from '../shared/platform.ts';
import type { ProgressEvent, ProgressSink } from '../shared/progress.ts';
import type { KeyHistory, Solver, Worker } from '../solver/index.ts';

export interface PlatformGraph {
  platform: Platform;
  definition: Definition;
}

export interface SolvePlatformsOptions {
  parallelism: number;
  noCache: boolean;
  signal: AbortSignal;
  emit: ProgressSink;
  history: KeyHistory;
  historyScope: (platform: Platform) => string;
  /** Hears each graph's cache keys (vertex digest → key) once it is solved. */
  onKeys?: (keys: ReadonlyMap<string, string>) => void;
}

/** One Definition holding every graph's vertices and metadata, for the shared worker. */
export function mergeDefinitions(definitions: readonly Definition[]): Definition {
  return {
    vertices: Object.assign({}, ...definitions.map((d) => d.vertices)) as Definition['vertices'],
    metadata: Object.assign({}, ...definitions.map((d) => d.metadata)) as Definition['metadata'],
    root: definitions[0]?.root ?? null,
  };
}

/** The platforms RUN steps of these graphs run for, each once. */
export function runPlatforms(definitions: readonly Definition[]): Platform[] {
  const found = new Map<string, Platform>();
  for (const definition of definitions)
    for (const vertex of Object.values(definition.vertices))
      if (vertex.op.type === 'exec' && vertex.platform)
        found.set(JSON.stringify(vertex.platform), vertex.platform);
  return [...found.values()];
}

/**
 * Each graph's root result, in the order given. The first failure cancels the other
 * graphs (after their running steps settle) and is what rejects.
 */
export async function solvePlatforms<R = Ref>(
  solver: Solver,
  graphs: readonly PlatformGraph[],
  worker: Worker<R>,
  options: SolvePlatformsOptions,
): Promise<Array<R | null>> {
  const controller = new AbortController();
  const abort = () => controller.abort(options.signal.reason);
  if (options.signal.aborted) abort();
  options.signal.addEventListener('abort', abort, { once: true });
  const emit: (graph: PlatformGraph) => ProgressSink =
    graphs.length === 1 ? () => options.emit : reportSharedOnce(options.emit);
  // The failure that started it, not the cancellations it caused in the other graphs.
  let firstError: unknown;
  try {
    const solves = graphs.map((graph) =>
      solver
        .solve(graph.definition, worker, {
          parallelism: options.parallelism,
          noCache: options.noCache,
          signal: controller.signal,
          onProgress: emit(graph),
          history: { scope: options.historyScope(graph.platform), store: options.history },
        })
        .then((solved) => {
          options.onKeys?.(solved.keys);
          return solved;
        })
        .catch((error: unknown) => {
          if (!controller.signal.aborted) firstError ??= error;
          controller.abort(error);
          throw error;
        }),
    );
    const settled = await Promise.allSettled(solves);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw firstError ?? (failed as PromiseRejectedResult).reason;
    return settled.map((s) => (s as PromiseFulfilledResult<{ result: R | null }>).value.result);
  } finally {
    options.signal.removeEventListener('abort', abort);
  }
}

/**
 * A vertex both graphs need is reported by each solve: forward its events from the graph
 * that reported it first only, so the shared step shows once.
 */
function reportSharedOnce(forward: ProgressSink): (graph: PlatformGraph) => ProgressSink {
  const owner = new Map<string, PlatformGraph>();
  return (graph) => (event: ProgressEvent) => {
    if (!('digest' in event)) return forward(event);
    const first = owner.get(event.digest);
    if (first === undefined) owner.set(event.digest, graph);
    else if (first !== graph) return;
    forward(event);
  };
}
