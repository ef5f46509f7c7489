/**
 * The runc executor as a build uses it: loaded when the first container runs (a cached
 * build runs none), and leftovers of a killed build stopped before a new one starts.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Executor } from '../exec/types.ts';

export function lazyRuncExecutor(stateDir: string): Executor {
  let executor: Promise<Executor> | undefined;
  const load = (): Promise<Executor> =>
    (executor ??= import('../exec/runc.ts').then((m) => m.createRuncExecutor({ stateDir })));
  return {
    async run(spec, io, signal) {
      return (await load()).run(spec, io, signal);
    },
    warm(network) {
      load().then(
        (loaded) => loaded.warm?.(network),
        () => undefined, // run() reports it
      );
    },
    async close() {
      if (executor) await (await executor).close?.();
    },
  };
}

/**
 * Containers of a killed build keep running until someone stops them: this build does.
 * Only when runc state is left over is the exec module loaded to clean it.
 */
export async function cleanupStaleContainers(stateDir: string): Promise<void> {
  const leftovers = await Promise.all(
    ['runc', 'bundles'].map((d) => readdir(path.join(stateDir, d)).catch(() => [] as string[])),
  );
  if (leftovers.every((names) => names.length === 0)) return;
  await (await import('../exec/runc.ts')).cleanupStaleContainers(stateDir);
}
