/**
 * The seam for `cache-from` and `cache-to`. tbuild cannot export or import its cache yet
 * (the cache-export work adds `--cache-from/--cache-to` with registry, local and gha
 * types); until then either input fails the step with a message naming it, rather than a
 * build that silently runs without the cache it was told to use.
 *
 * When the builder takes cache options, this is the one function to change: parse each
 * entry with the builder's cache spec parser and return them as `BuildOptions` fields
 * (`type=gha` reads ACTIONS_RESULTS_URL and ACTIONS_RUNTIME_TOKEN from the run's env, which
 * the action passes through unchanged).
 */
import type { BuildOptions } from '../builder/index.ts';
import { InputError } from './errors.ts';
import type { Inputs } from './inputs.ts';

export function cacheOptions(
  inputs: Pick<Inputs, 'cache-from' | 'cache-to'>,
): Partial<BuildOptions> {
  for (const name of ['cache-from', 'cache-to'] as const) {
    const entries = inputs[name];
    if (entries.length > 0)
      throw new InputError(
        name,
        `tbuild cannot ${name === 'cache-from' ? 'import' : 'export'} build cache yet (${entries.join('; ')})`,
        {
          hint: `Remove ${name}: tbuild keeps its cache in its store, which persists across the steps of a job. Cache export and import (registry, local, gha) are planned.`,
        },
      );
  }
  return {};
}
