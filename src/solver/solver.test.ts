import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../shared/progress.ts';
import { FakeGraph, FakeWorker, MemoryCache } from './fake-worker.ts';
import { createSolver, solve } from './solver.ts';

/** (a + b) * c, with every op a separate vertex. */
function arithmetic(): FakeGraph & { root: ReturnType<FakeGraph['op']> } {
  const g = new FakeGraph();
  const sum = g.op('add', 'a+b', [g.num('a'), g.num('b')], { delayMs: 5 });
  const root = g.op('mul', '(a+b)*c', [sum, g.num('c')], { delayMs: 5 });
  return Object.assign(g, { root });
}

function collect(): { events: ProgressEvent[]; sink: (e: ProgressEvent) => void } {
  const events: ProgressEvent[] = [];
  return { events, sink: (e) => events.push(e) };
}

function overlaps(a: { start: number; end?: number }, b: { start: number; end?: number }) {
  return a.start < (b.end ?? Infinity) && b.start < (a.end ?? Infinity);
}

describe('solve', () => {
  it('computes the root result from its inputs', async () => {
    const g = arithmetic();
    const worker = new FakeWorker({ numbers: { a: 2, b: 3, c: 4 } });
    const out = await solve(g.build(g.root), worker);
    expect(out.result).toBe(20);
    expect(out.executed).toHaveLength(5);
    expect(out.cached).toEqual([]);
    expect(out.keys.size).toBe(5);
  });

  it('returns null for a scratch root without running anything', async () => {
    const worker = new FakeWorker();
    const out = await solve(new FakeGraph().build(null), worker);
    expect(out).toEqual({ result: null, keys: new Map(), executed: [], cached: [] });
  });

  it('runs nothing the second time and answers from the cache', async () => {
    const g = arithmetic();
    const worker = new FakeWorker({ numbers: { a: 2, b: 3, c: 4 } });
    await solve(g.build(g.root), worker);
    const second = new FakeWorker({ numbers: { a: 2, b: 3, c: 4 }, cache: worker.cache });
    const { events, sink } = collect();
    const out = await solve(g.build(g.root), second, { onProgress: sink });
    expect(out.result).toBe(20);
    expect(second.executedNames).toEqual([]);
    expect(out.executed).toEqual([]);
    // The root is a hit, so its inputs are never even loaded...
    expect(out.cached).toEqual([g.root.digest]);
    // ...but every step is still listed as cached, inputs first, as BuildKit shows them.
    expect(events.map((e) => e.type)).toEqual(Array(5).fill('vertex.cached'));
    expect(events.map((e) => (e as { name: string }).name)).toEqual([
      'a',
      'b',
      'a+b',
      'c',
      '(a+b)*c',
    ]);
  });

  it('lists a step once when a cached step and a running one share it', async () => {
    const g = new FakeGraph();
    const shared = g.op('add', 'a+b', [g.num('a'), g.num('b')]);
    const cachedTop = g.op('mul', 'x', [shared, g.num('c')]);
    const cache = new MemoryCache();
    const numbers = { a: 1, b: 2, c: 3, d: 4 };
    await solve(g.build(cachedTop), new FakeWorker({ numbers, cache }));
    const root = g.op('add', 'total', [cachedTop, g.op('mul', 'y', [shared, g.num('d')])]);
    const { events, sink } = collect();
    const out = await solve(g.build(root), new FakeWorker({ numbers, cache }), {
      onProgress: sink,
    });
    expect(out.result).toBe(9 + 12);
    const cachedNames = events.flatMap((e) => (e.type === 'vertex.cached' ? [e.name] : []));
    expect(new Set(cachedNames).size).toBe(cachedNames.length);
    expect(cachedNames).toEqual(expect.arrayContaining(['a', 'b', 'a+b', 'x']));
  });

  it('re-runs only the steps that depend on a changed source, and says why', async () => {
    const g = new FakeGraph();
    const left = g.op('add', 'a+b', [g.num('a'), g.num('b')]);
    const right = g.op('mul', 'c*d', [g.num('c'), g.num('d')]);
    const root = g.op('add', 'total', [left, right]);
    const cache = new MemoryCache();
    const numbers = { a: 1, b: 2, c: 3, d: 4 };
    await solve(g.build(root), new FakeWorker({ numbers, cache }));

    const worker = new FakeWorker({ numbers: { ...numbers, a: 10 }, cache });
    const { events, sink } = collect();
    const out = await solve(g.build(root), worker, { onProgress: sink });
    expect(out.result).toBe(24);
    expect(worker.executedNames.sort()).toEqual(['a', 'a+b', 'total']);
    expect(out.cached.map((d) => g.metadata[d]?.description).sort()).toEqual(['b', 'c*d']);
    const miss = events.find((e) => e.type === 'vertex.cache-miss' && e.name === 'total');
    expect(miss).toMatchObject({ reason: expect.stringMatching(/input "a\+b" changed$/) });
    const sourceMiss = events.find((e) => e.type === 'vertex.cache-miss' && e.name === 'a');
    expect(sourceMiss).toMatchObject({ reason: expect.stringMatching(/step itself is new/) });
  });

  it('runs independent branches at the same time', async () => {
    const g = new FakeGraph();
    const left = g.op('add', 'left', [g.num('a')], { delayMs: 40 });
    const right = g.op('add', 'right', [g.num('b')], { delayMs: 40 });
    const worker = new FakeWorker({ numbers: { a: 1, b: 2 } });
    await solve(g.build(g.op('add', 'root', [left, right])), worker, { parallelism: 4 });
    const [l, r] = ['left', 'right'].map((n) => worker.execs.find((e) => e.name === n)!);
    expect(overlaps(l!, r!)).toBe(true);
  });

  it('never runs more ops at once than the parallelism allows', async () => {
    const g = new FakeGraph();
    const branches = Array.from({ length: 6 }, (_, i) =>
      g.op('add', `branch ${i}`, [g.num('a')], { delayMs: 15 }),
    );
    const worker = new FakeWorker({ numbers: { a: 1 } });
    const out = await solve(g.build(g.op('add', 'root', branches)), worker, { parallelism: 2 });
    expect(out.result).toBe(6);
    expect(worker.maxRunning).toBe(2);
  });

  it('applies a solver-wide parallelism across concurrent solves', async () => {
    const solver = createSolver({ parallelism: 1 });
    const worker = new FakeWorker({ numbers: { a: 1 } });
    const graphs = ['one', 'two'].map((name) => {
      const g = new FakeGraph();
      return g.build(g.op('add', name, [g.num('a')], { delayMs: 15 }));
    });
    await Promise.all(graphs.map((def) => solver.solve(def, worker, { parallelism: 4 })));
    expect(worker.maxRunning).toBe(1);
  });

  it('runs a vertex shared by two branches once', async () => {
    const g = new FakeGraph();
    const shared = g.op('add', 'shared', [g.num('a')], { delayMs: 10 });
    const left = g.op('add', 'left', [shared, g.num('b')]);
    const right = g.op('mul', 'right', [shared, g.num('b')]);
    const worker = new FakeWorker({ numbers: { a: 3, b: 2 } });
    const out = await solve(g.build(g.op('add', 'root', [left, right])), worker);
    expect(out.result).toBe(5 + 6);
    expect(worker.executedNames.filter((n) => n === 'shared')).toHaveLength(1);
  });

  it('runs each vertex once when two builds of the same graph overlap', async () => {
    const g = arithmetic();
    const solver = createSolver();
    const worker = new FakeWorker({ numbers: { a: 2, b: 3, c: 4 } });
    const [one, two] = await Promise.all([
      solver.solve(g.build(g.root), worker),
      solver.solve(g.build(g.root), worker),
    ]);
    expect(one.result).toBe(20);
    expect(two.result).toBe(20);
    expect(worker.executedNames.sort()).toEqual(['(a+b)*c', 'a', 'a+b', 'b', 'c']);
  });

  it('keys a step on the selected files only, through the worker checksum', async () => {
    const g = new FakeGraph();
    const root = g.op('sum-files', 'COPY a b', [g.context('context')], { selectors: ['a', 'b'] });
    const cache = new MemoryCache();
    const first = new FakeWorker({ files: { context: { a: 1, b: 2, c: 3 } }, cache });
    expect((await solve(g.build(root), first)).result).toBe(3);
    expect(first.checksums).toEqual([{ selectors: ['a', 'b'] }]);

    const otherFile = new FakeWorker({ files: { context: { a: 1, b: 2, c: 99 } }, cache });
    const unchanged = await solve(g.build(root), otherFile);
    expect(unchanged.cached).toEqual([root.digest]);
    expect(otherFile.executedNames).toEqual(['context']);

    const selected = new FakeWorker({ files: { context: { a: 5, b: 2, c: 99 } }, cache });
    const misses: string[] = [];
    const rerun = await solve(g.build(root), selected, {
      onProgress: (e) =>
        e.type === 'vertex.cache-miss' && e.name === 'COPY a b' && misses.push(e.reason),
    });
    expect(misses).toEqual([
      expect.stringContaining('the files it reads changed (a, b from "context")'),
    ]);
    expect(rerun.result).toBe(7);
    expect(selected.executedNames).toEqual(['context', 'COPY a b']);
  });

  it('never looks up or stores an uncacheable op', async () => {
    const g = new FakeGraph();
    const ctx = g.context('context');
    const root = g.op('sum-files', 'COPY a', [ctx], { selectors: ['a'] });
    const worker = new FakeWorker({ files: { context: { a: 1 } } });
    const out = await solve(g.build(root), worker);
    const contextKey = out.keys.get(ctx.digest)!;
    expect(worker.cache.gets).not.toContain(contextKey);
    expect(worker.cache.puts).not.toContain(contextKey);
    expect(worker.cache.puts).toEqual([out.keys.get(root.digest)]);
  });

  it('skips every lookup with noCache but still stores results', async () => {
    const g = arithmetic();
    const worker = new FakeWorker({ numbers: { a: 2, b: 3, c: 4 } });
    await solve(g.build(g.root), worker);
    const again = new FakeWorker({ numbers: { a: 2, b: 3, c: 4 }, cache: worker.cache });
    const before = worker.cache.gets.length;
    const out = await solve(g.build(g.root), again, { noCache: true });
    expect(worker.cache.gets.length).toBe(before);
    expect(out.executed).toHaveLength(5);
    expect(worker.cache.puts).toHaveLength(10);
  });

  it('skips the lookup of a step marked ignoreCache and reuses its cached inputs', async () => {
    const g = new FakeGraph();
    const sum = g.op('add', 'a+b', [g.num('a'), g.num('b')]);
    const root = g.op('mul', 'root', [sum], { meta: { ignoreCache: true } });
    const worker = new FakeWorker({ numbers: { a: 2, b: 3 } });
    await solve(g.build(root), worker);
    const again = new FakeWorker({ numbers: { a: 2, b: 3 }, cache: worker.cache });
    const { events, sink } = collect();
    const out = await solve(g.build(root), again, { onProgress: sink });
    expect(again.executedNames).toEqual(['root']);
    expect(out.cached).toEqual([sum.digest]);
    expect(events.find((e) => e.type === 'vertex.cache-miss')).toMatchObject({
      reason: expect.stringContaining('--no-cache-filter'),
    });
  });

  it('reports each executed step as started, logging, then completed with a duration', async () => {
    const g = new FakeGraph();
    const root = g.op('add', 'only', [], {
      delayMs: 5,
      meta: { location: { range: { start: 3, end: 3 } } },
    });
    const { events, sink } = collect();
    await solve(g.build(root), new FakeWorker(), { onProgress: sink });
    expect(events.map((e) => e.type)).toEqual([
      'vertex.cache-miss',
      'vertex.started',
      'vertex.log',
      'vertex.completed',
    ]);
    expect(events[1]).toMatchObject({ name: 'only', location: { range: { start: 3, end: 3 } } });
    expect(events[2]).toMatchObject({ stream: 'stdout', data: 'running only\n' });
    const done = events[3] as Extract<ProgressEvent, { type: 'vertex.completed' }>;
    expect(done.durationMs).toBeGreaterThanOrEqual(4);
    for (const e of events) expect(typeof e.time).toBe('number');
  });
});
