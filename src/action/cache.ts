/**
 * `cache-from` and `cache-to`, as docker/build-push-action takes them: one buildx cache
 * spec per line (`type=gha,mode=max`, `type=registry,ref=…`, a bare image reference),
 * parsed by the builder's spec parser. `type=gha` reads ACTIONS_RESULTS_URL and
 * ACTIONS_RUNTIME_TOKEN from the run's environment, which the action passes through.
 */
import { parseCacheSpec, type BuildOptions } from '../builder/index.ts';
import { InputError } from './errors.ts';
import type { Inputs } from './inputs.ts';

export function cacheOptions(
  inputs: Pick<Inputs, 'cache-from' | 'cache-to'>,
): Pick<BuildOptions, 'cacheFrom' | 'cacheTo'> {
  const parse = (name: 'cache-from' | 'cache-to') =>
    inputs[name].map((spec) => {
      try {
        return parseCacheSpec(spec, name === 'cache-from' ? 'from' : 'to');
      } catch (error) {
        const hint = (error as { hint?: string }).hint;
        throw new InputError(name, (error as Error).message, {
          ...(hint ? { hint } : {}),
          cause: error,
        });
      }
    });
  const cacheFrom = parse('cache-from');
  const cacheTo = parse('cache-to');
  return {
    ...(cacheFrom.length ? { cacheFrom } : {}),
    ...(cacheTo.length ? { cacheTo } : {}),
  };
}
