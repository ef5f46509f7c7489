/**
 * The solver's offer of an op's previous run (CacheMap.incremental, ADR 0018): made only
 * when the step's last key differed from this one in content alone, and the old result is
 * still cached.
 */
import { describe, expect, it } from 'vitest';
import type { Digest } from '../llb/types.ts';
import { FakeGraph, FakeWorker, MemoryCache } from './fake-worker.ts';
import { solve } from './solver.ts';
import type { KeyFacts, KeyHistory } from './types.ts';

function memoryHistory(): KeyHistory {
  const map = new Map<string, KeyFacts>();
  return { get: (id) => map.get(id), put: (id, f) => void map.set(id, f) };
}

const graph = () => {
  const g = new FakeGraph();
  const root = g.op('sum-files', 'sum', [g.context('ctx'), g.num('n')], {
    selectors: ['a', 'b', 'c'],
  });
  return g.build(root);
};

/** Solves sharing one cache, key history and record index, as builds on one store do. */
function store() {
  const cache = new MemoryCache();
  const history = { scope: 's', store: memoryHistory() };
  const checksummed = new Map<Digest, Record<string, number | undefined>>();
  return async (
    files: Record<string, number>,
    options: { n?: number; noCache?: boolean; lookUpPrevious?: boolean } = {},
  ) => {
    const worker = new FakeWorker({
      cache,
      checksummed,
      incremental: true,
      lookUpPrevious: options.lookUpPrevious ?? true,
      files: { ctx: files },
      numbers: { n: options.n ?? 1 },
    });
    await solve(graph(), worker, { history, noCache: options.noCache ?? false });
    return { offers: worker.offers, cache, describes: worker.describes };
  };
}

describe('the previous run the solver offers an incremental op', () => {
  it('is the last result and the files changed since, when only content changed', async () => {
    const build = store();
    expect((await build({ a: 1, b: 2 })).offers).toEqual([{ name: 'sum', previous: undefined }]);
    expect((await build({ a: 1, b: 5, c: 1 })).offers).toEqual([
      {
        name: 'sum',
        previous: {
          results: [3],
          changes: [{ added: ['c'], removed: [], modified: ['b'] }, undefined],
        },
      },
    ]);
  });

  it('is not made with --no-cache, nor when another input changed too', async () => {
    const build = store();
    await build({ a: 1 });
    expect((await build({ a: 2 }, { noCache: true })).offers).toEqual([
      { name: 'sum', previous: undefined },
    ]);
    expect((await build({ a: 3 }, { n: 2 })).offers).toEqual([
      { name: 'sum', previous: undefined },
    ]);
  });

  it('is not made when the last result is no longer cached', async () => {
    const build = store();
    const { cache } = await build({ a: 1 });
    cache.entries.clear();
    expect((await build({ a: 2 })).offers).toEqual([{ name: 'sum', previous: undefined }]);
  });

  it('is looked up only when the op asks for it', async () => {
    const build = store();
    await build({ a: 1 });
    // The miss's explanation describes the change once; the lookup would again.
    expect((await build({ a: 2 }, { lookUpPrevious: false })).describes).toBe(1);
    expect((await build({ a: 3 })).describes).toBe(2);
  });
});
