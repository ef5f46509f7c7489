import { describe, expect, it } from 'vitest';
import type { BuildResult } from '../../builder/index.ts';
import { createLinePrefixer, formatSummary } from './render.ts';

const result = (steps: BuildResult['steps']): BuildResult => ({
  imageId: 'sha256:934b97e0c838aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  manifestDigest: 'sha256:1111111111111111111111111111111111111111111111111111111111111111',
  image: { layers: 1, size: 1024 },
  metadata: {} as BuildResult['metadata'],
  warnings: [],
  steps,
});

describe('the watch summary', () => {
  it('lists the changed files and each step that ran with why, leaving out sources', () => {
    const text = formatSummary({
      build: 2,
      changed: ['src/a.txt'],
      latencyMs: 410,
      durationMs: 360,
      result: result([
        { digest: 'sha256:1', name: '[internal] load build context', status: 'ran' },
        { digest: 'sha256:2', name: '[1/3] FROM debian', status: 'ran', durationMs: 0 },
        { digest: 'sha256:3', name: '[2/3] WORKDIR /app', status: 'cached' },
        {
          digest: 'sha256:4',
          name: '[3/3] COPY src ./src',
          status: 'ran',
          durationMs: 50,
          cacheMiss: 'src/a.txt changed',
        },
      ]),
    });
    expect(text).toEqual([
      '[watch] build 2: image 934b97e0c838 ready 0.41s after the first change (build 0.36s)',
      '  changed: src/a.txt',
      '  1 step ran, 1 cached',
      '    [3/3] COPY src ./src (0.05s): src/a.txt changed',
    ]);
  });

  it('shows a source that ran because what it stands for changed', () => {
    const text = formatSummary({
      build: 3,
      changed: [],
      latencyMs: 1000,
      durationMs: 900,
      result: result([
        {
          digest: 'sha256:2',
          name: '[1/2] FROM debian',
          status: 'ran',
          cacheMiss: 'base image debian now resolves to sha256:bbb (was sha256:aaa)',
        },
      ]),
    });
    expect(text[1]).toBe('  1 step ran, 0 cached');
  });
});

describe('prefixed output', () => {
  it('prefixes whole lines and keeps a partial line until it ends', () => {
    const out: string[] = [];
    const p = createLinePrefixer('[run] ', (t) => out.push(t));
    p.push(Buffer.from('one\ntw'));
    p.push(Buffer.from('o\nthree'));
    expect(out).toEqual(['[run] one\n', '[run] two\n']);
    p.flush();
    expect(out.at(-1)).toBe('[run] three\n');
  });
});
