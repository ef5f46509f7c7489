import { describe, expect, it } from 'vitest';
import { FakeGraph, FakeWorker } from '../solver/fake-worker.ts';
import { createSolver } from '../solver/index.ts';
import type { ProgressEvent } from '../shared/progress.ts';
import { mergeDefinitions, runPlatforms, solvePlatforms } from './solve-platforms.ts';

const amd64 = { os: 'linux', architecture: 'amd64' };
const arm64 = { os: 'linux', architecture: 'arm64' };
const noHistory = { get: () => undefined, put: () => undefined };

/** Two platforms' graphs that share a slow step (as a FROM --platform=$BUILDPLATFORM stage). */
function twoGraphs() {
  const g = new FakeGraph();
  const a = g.num('a');
  const shared = g.op('add', '[linux/amd64 build 2/2] RUN make', [a], { delayMs: 30 });
  const forAmd = g.op('mul', '[linux/amd64 2/2] COPY --from=build', [shared, a]);
  const amdGraph = g.build(forAmd);
  const forArm = g.op('add', '[linux/arm64 2/2] COPY --from=build', [shared, shared]);
  const armGraph = g.build(forArm);
  return { g, amdGraph, armGraph };
}

describe('solvePlatforms', () => {
  it('runs a step both platforms need once, reports it once, and returns each root', async () => {
    const { amdGraph, armGraph } = twoGraphs();
    const worker = new FakeWorker({ numbers: { a: 3 } });
    const events: ProgressEvent[] = [];
    const results = await solvePlatforms(
      createSolver({ parallelism: 2 }),
      [
        { platform: amd64, definition: amdGraph },
        { platform: arm64, definition: armGraph },
      ],
      worker,
      {
        parallelism: 2,
        noCache: false,
        signal: new AbortController().signal,
        emit: (e) => events.push(e),
        history: noHistory,
        historyScope: (p) => p.architecture,
      },
    );
    expect(results).toEqual([9, 6]);
    expect(worker.executedNames.filter((n) => n.includes('RUN make'))).toHaveLength(1);
    const started = events.flatMap((e) => (e.type === 'vertex.started' ? [e.name] : []));
    expect(started.filter((n) => n.includes('RUN make'))).toEqual([
      '[linux/amd64 build 2/2] RUN make',
    ]);
  });

  it('fails with the failing step and stops the other platform', async () => {
    const g = new FakeGraph();
    const a = g.num('a');
    const failing = g.build(g.op('fail', '[linux/arm64 2/2] RUN false', [a], { delayMs: 5 }));
    const hanging = g.build(g.op('hang', '[linux/amd64 2/2] RUN sleep 60', [a]));
    const worker = new FakeWorker({ numbers: { a: 1 } });
    const error = await solvePlatforms(
      createSolver(),
      [
        { platform: amd64, definition: hanging },
        { platform: arm64, definition: failing },
      ],
      worker,
      {
        parallelism: 2,
        noCache: false,
        signal: new AbortController().signal,
        emit: () => undefined,
        history: noHistory,
        historyScope: (p) => p.architecture,
      },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error).message).toContain('RUN false');
    expect(worker.running).toBe(0);
  });
});

describe('runPlatforms and mergeDefinitions', () => {
  it('lists the platforms RUN steps run for, once each, and merges every vertex', () => {
    const { amdGraph, armGraph } = twoGraphs();
    const withPlatform = (graph: typeof amdGraph, platform: typeof amd64) => ({
      ...graph,
      vertices: Object.fromEntries(
        Object.entries(graph.vertices).map(([d, v]) => [d, { ...v, platform }]),
      ),
    });
    expect(runPlatforms([withPlatform(amdGraph, amd64), withPlatform(armGraph, arm64)])).toEqual([
      amd64,
      arm64,
    ]);
    const merged = mergeDefinitions([amdGraph, armGraph]);
    expect(Object.keys(merged.vertices).sort()).toEqual(
      [...new Set([...Object.keys(amdGraph.vertices), ...Object.keys(armGraph.vertices)])].sort(),
    );
  });
});
