import { describe, expect, it } from 'vitest';
import { CancelledError } from '../shared/errors.ts';
import type { ProgressEvent } from '../shared/progress.ts';
import { VertexError } from './errors.ts';
import { FakeGraph, FakeWorker } from './fake-worker.ts';
import { createSolver, solve } from './solver.ts';

const location = { file: 'Dockerfile', range: { start: 7, end: 7 } };

/** A failing step next to a step that would run for a minute. */
function failingNextToHanging(): { g: FakeGraph; root: ReturnType<FakeGraph['op']> } {
  const g = new FakeGraph();
  const failing = g.op('fail', '[build 2/3] RUN make', [g.num('a')], {
    delayMs: 20,
    meta: { location },
  });
  const hanging = g.op('hang', '[test 2/2] RUN sleep 60', [g.num('a')]);
  return { g, root: g.op('add', '[final 1/1] COPY', [failing, hanging]) };
}

describe('solve failures', () => {
  it('cancels running siblings and rejects with the failing step, after they settle', async () => {
    const { g, root } = failingNextToHanging();
    const worker = new FakeWorker({ numbers: { a: 1 } });
    const events: ProgressEvent[] = [];
    const error = await solve(g.build(root), worker, { onProgress: (e) => events.push(e) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(VertexError);
    expect(error).toMatchObject({
      code: 'TBUILD_TEST_FAILED',
      message: '[build 2/3] RUN make: [build 2/3] RUN make exploded',
      hint: 'do not explode',
      location,
      description: '[build 2/3] RUN make',
    });
    const sibling = worker.execs.find((e) => e.name === '[test 2/2] RUN sleep 60');
    expect(sibling).toMatchObject({ aborted: true });
    expect(worker.running).toBe(0);
    const errors = events.filter((e) => e.type === 'vertex.error');
    expect(errors.map((e) => [e.name, e.error.code])).toEqual([
      ['[build 2/3] RUN make', 'TBUILD_TEST_FAILED'],
      ['[test 2/2] RUN sleep 60', 'TBUILD_CANCELLED'],
    ]);
    expect(errors[0]).toMatchObject({
      location,
      error: { message: '[build 2/3] RUN make exploded' },
    });
    expect(worker.executedNames).not.toContain('[final 1/1] COPY');
  });

  it('gives a step error the Dockerfile location of the step when the op had none', async () => {
    const g = new FakeGraph();
    const worker = new FakeWorker();
    worker.handler = () => ({
      cacheMap: async () => ({ digest: g.digest('RUN x') }),
      exec: async () => {
        throw new Error('exit code 2');
      },
    });
    g.op('add', 'RUN x', [], { meta: { location } });
    const error = await solve(g.build({ digest: g.digest('RUN x'), output: 0 }), worker).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      code: 'TBUILD_STEP_FAILED',
      message: 'RUN x: exit code 2',
      location,
    });
  });

  it('stops everything when the caller aborts and rejects with CancelledError', async () => {
    const g = new FakeGraph();
    const hangOnly = g.op('add', 'root', [g.op('hang', 'hang a', []), g.op('hang', 'hang b', [])]);
    const worker = new FakeWorker();
    const controller = new AbortController();
    const events: ProgressEvent[] = [];
    const solving = solve(g.build(hangOnly), worker, {
      signal: controller.signal,
      onProgress: (e) => events.push(e),
    });
    setTimeout(() => controller.abort(), 20);
    await expect(solving).rejects.toBeInstanceOf(CancelledError);
    expect(worker.running).toBe(0);
    expect(worker.execs.map((e) => e.aborted)).toEqual([true, true]);
    const cancelled = events.filter((e) => e.type === 'vertex.error').map((e) => e.name);
    expect(cancelled.sort()).toEqual(['hang a', 'hang b']);
  });

  it('rejects at once when the signal was already aborted', async () => {
    const { g, root } = failingNextToHanging();
    const worker = new FakeWorker({ numbers: { a: 1 } });
    const signal = AbortSignal.abort();
    await expect(solve(g.build(root), worker, { signal })).rejects.toBeInstanceOf(CancelledError);
    expect(worker.execs).toEqual([]);
  });

  it('keeps a shared step running for another build when one build is cancelled', async () => {
    const g = new FakeGraph();
    const slow = g.op('add', 'slow', [g.num('a')], { delayMs: 60 });
    const root = g.op('add', 'root', [slow]);
    const solver = createSolver();
    const worker = new FakeWorker({ numbers: { a: 1 } });
    const controller = new AbortController();
    const first = solver.solve(g.build(root), worker, { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 15));
    // Cancel the first build once the second is waiting for the step the first started.
    const second = solver.solve(g.build(root), worker, {
      onProgress: (e) => {
        if (e.type === 'vertex.started' && e.name === 'slow') controller.abort();
      },
    });
    await expect(first).rejects.toBeInstanceOf(CancelledError);
    expect((await second).result).toBe(1);
    const slowRuns = worker.execs.filter((e) => e.name === 'slow');
    expect(slowRuns).toHaveLength(1);
    expect(slowRuns[0]!.aborted).toBeUndefined();
  });

  it('rejects a graph that references a vertex it does not define', async () => {
    const g = new FakeGraph();
    const root = g.op('add', 'root', [g.num('a')]);
    const def = g.build(root);
    delete def.vertices[g.digest('a')];
    await expect(solve(def, new FakeWorker())).rejects.toMatchObject({
      code: 'TBUILD_SOLVE_MISSING_VERTEX',
    });
  });
});
