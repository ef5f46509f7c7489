import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../shared/digest.ts';
import type { ExecOp } from '../llb/types.ts';
import type { ProgressEvent } from '../shared/progress.ts';
import { describeFiles, explainChange } from './explain-change.ts';
import { FakeGraph, FakeWorker, MemoryCache } from './fake-worker.ts';
import { solve } from './solver.ts';
import type { KeyFacts, KeyHistory } from './types.ts';

const run = (args: string[], env: string[] = [], extra: Partial<ExecOp> = {}): string =>
  canonicalJson({
    type: 'exec',
    args,
    env,
    cwd: '/',
    user: 'root',
    network: 'default',
    security: 'sandbox',
    mounts: [],
    ...extra,
  } satisfies ExecOp);

const facts = (op: string, inputs: KeyFacts['inputs'] = [], own = 'sha256:own'): KeyFacts => ({
  op,
  own: own as KeyFacts['own'],
  inputs,
});

describe('explaining a miss against the last build of the step', () => {
  it('names the ARG/ENV variables that changed, never their values', async () => {
    const before = facts(run(['sh', '-c', 'make'], ['PATH=/bin', 'VERSION=1', 'GONE=x']));
    const after = facts(run(['sh', '-c', 'make'], ['PATH=/bin', 'VERSION=2', 'NEW=y']));
    const reason = await explainChange(before, after, undefined);
    expect(reason).toBe('ARG/ENV GONE, NEW, VERSION changed');
    expect(reason).not.toContain('2');
  });

  it('says the command changed, and other RUN options by name', async () => {
    expect(await explainChange(facts(run(['a'])), facts(run(['b'])), undefined)).toBe(
      'the command changed',
    );
    expect(
      await explainChange(facts(run(['a'])), facts(run(['a'], [], { user: 'app' })), undefined),
    ).toBe('USER changed');
  });

  it('names the parent step that changed when the step itself did not', async () => {
    const op = run(['make']);
    const before = facts(op, [{ name: '[2/3] COPY . .', key: 'sha256:1' }]);
    const after = facts(op, [{ name: '[2/3] COPY . .', key: 'sha256:2' }]);
    expect(await explainChange(before, after, undefined)).toBe(
      'parent step "[2/3] COPY . ." changed',
    );
  });

  it('lists the files that changed, from the worker', async () => {
    const op = canonicalJson({ type: 'file', actions: [] });
    const before = facts(op, [{ name: 'context', content: 'sha256:a' }]);
    const after = facts(op, [{ name: 'context', content: 'sha256:b' }]);
    const reason = await explainChange(before, after, async () => ({
      added: ['src/new.ts'],
      removed: [],
      modified: ['src/a.ts', 'src/b.ts', 'src/c.ts', 'src/d.ts'],
    }));
    expect(reason).toBe('src/a.ts, src/b.ts, src/c.ts and 1 more changed, src/new.ts added');
    // Without the worker's records: still which input.
    expect(await explainChange(before, after, async () => undefined)).toBe(
      'files it reads from "context" changed',
    );
  });

  it('says which digest a base image now resolves to', async () => {
    const op = canonicalJson({
      type: 'source',
      source: {
        type: 'image',
        ref: 'docker.io/library/debian:12',
        platform: { os: 'linux', architecture: 'amd64' },
      },
    });
    const reason = await explainChange(
      facts(op, [], 'sha256:aaaaaaaaaaaaaaaa'),
      facts(op, [], 'sha256:bbbbbbbbbbbbbbbb'),
      undefined,
    );
    expect(reason).toBe(
      'base image docker.io/library/debian:12 now resolves to sha256:bbbbbbbbbbbb (was sha256:aaaaaaaaaaaa)',
    );
  });

  it('says the result was pruned when nothing differs', async () => {
    const same = facts(run(['a']));
    expect(await explainChange(same, same, undefined)).toMatch(/pruned/);
  });

  it('describes file changes in order: changed, added, removed', () => {
    expect(describeFiles({ added: ['b'], removed: ['c'], modified: ['a'] })).toBe(
      'a changed, b added, c removed',
    );
  });
});

describe('the solver with a key history', () => {
  function memoryHistory(): KeyHistory & { size(): number } {
    const map = new Map<string, KeyFacts>();
    return {
      get: (id) => map.get(id),
      put: (id, f) => void map.set(id, f),
      size: () => map.size,
    };
  }

  it('explains a rerun against the previous solve of the same graph', async () => {
    const g = new FakeGraph();
    const sum = g.op('add', 'a+b', [g.num('a'), g.num('b')]);
    const root = g.op('mul', 'total', [sum, g.num('c')]);
    const cache = new MemoryCache();
    const history = { scope: 'Dockerfile', store: memoryHistory() };
    await solve(g.build(root), new FakeWorker({ numbers: { a: 1, b: 2, c: 3 }, cache }), {
      history,
    });
    expect(history.store.size()).toBeGreaterThan(0);

    const events: ProgressEvent[] = [];
    await solve(g.build(root), new FakeWorker({ numbers: { a: 5, b: 2, c: 3 }, cache }), {
      history,
      onProgress: (e) => events.push(e),
    });
    const reasons = Object.fromEntries(
      events.flatMap((e) => (e.type === 'vertex.cache-miss' ? [[e.name, e.reason]] : [])),
    );
    expect(reasons['a+b']).toBe('parent step "a" changed');
    expect(reasons.total).toBe('parent step "a+b" changed');
  });

  it('explains every miss before the step completes', async () => {
    const g = new FakeGraph();
    const root = g.op('add', 'sum', [g.num('a')], { delayMs: 1 });
    const order: string[] = [];
    await solve(g.build(root), new FakeWorker({ numbers: { a: 1 }, cache: new MemoryCache() }), {
      history: { scope: 's', store: memoryHistory() },
      onProgress: (e) => {
        if ('name' in e && e.name === 'sum') order.push(e.type);
      },
    });
    expect(order.indexOf('vertex.cache-miss')).toBeLessThan(order.indexOf('vertex.completed'));
  });
});
