import * as core from '@actions/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Digest } from '../shared/digest.ts';
import type { ProgressEvent } from '../shared/progress.ts';
import { createGitHubRenderer, stageOf } from './github.ts';
import { formatCommand } from './workflow-commands.ts';

const d = (n: number): Digest => `sha256:${String(n).repeat(64)}`;
const T = 1_700_000_000_000;
const started = (n: number, name: string, at: number): ProgressEvent => ({
  type: 'vertex.started',
  time: T + at,
  digest: d(n),
  name,
});
const done = (n: number, name: string, at: number): ProgressEvent => ({
  type: 'vertex.completed',
  time: T + at,
  digest: d(n),
  name,
  durationMs: 100,
});
const log = (n: number, data: string, at: number): ProgressEvent => ({
  type: 'vertex.log',
  time: T + at,
  digest: d(n),
  stream: 'stdout',
  data,
});

/** Two stages whose steps interleave, as a parallel build's do. */
const script: ProgressEvent[] = [
  { type: 'build.started', time: T },
  started(1, '[internal] load build context', 1),
  done(1, '[internal] load build context', 2),
  started(2, '[build 2/3] RUN make', 3),
  started(3, '[final 2/3] WORKDIR /app', 4),
  log(2, 'compiling\n', 5),
  done(3, '[final 2/3] WORKDIR /app', 6),
  log(2, 'linking\n', 7),
  done(2, '[build 2/3] RUN make', 8),
  {
    type: 'warning',
    time: T + 9,
    message: 'JSON arguments recommended for CMD: 50% of cases, line 2',
    location: { file: 'Dockerfile', range: { start: 7, end: 8 } },
  },
  { type: 'vertex.cached', time: T + 10, digest: d(4), name: '[final 3/3] COPY --from=build / /' },
  { type: 'task.started', time: T + 11, id: 'export', name: 'exporting to image' },
  { type: 'task.completed', time: T + 12, id: 'export', name: 'exporting to image', durationMs: 1 },
  { type: 'build.completed', time: T + 13, durationMs: 13, ok: true },
];

function play(events: ProgressEvent[]): string {
  let text = '';
  const renderer = createGitHubRenderer(
    { write: (s: string) => (text += s) },
    { annotationFile: (loc) => (loc?.file ? `app/${loc.file}` : undefined) },
  );
  for (const event of events) renderer.sink(event);
  renderer.close();
  return text;
}

describe('the GitHub Actions renderer', () => {
  it('folds plain output into a group per stage, streaming one stage while others wait', () => {
    expect(play(script)).toMatchInlineSnapshot(`
      "::group::Loading definitions and context
      #1 [internal] load build context
      #1 DONE 0.1s
      ::endgroup::
      ::group::Stage build
      #2 [build 2/3] RUN make
      #2 0.002 compiling
      #2 0.004 linking
      #2 DONE 0.1s
      ::endgroup::
      ::group::Stage final
      #3 [final 2/3] WORKDIR /app
      #3 DONE 0.1s
      ::warning file=app/Dockerfile,line=7,endLine=8::JSON arguments recommended for CMD: 50%25 of cases, line 2

      #4 [final 3/3] COPY --from=build / /
      #4 CACHED
      ::endgroup::
      ::group::exporting to image
      #5 exporting to image
      #5 DONE 0.0s
      ::endgroup::
      "
    `);
  });

  it('closes every group when the build fails part-way', () => {
    const text = play(script.slice(0, 6));
    expect(text.match(/::group::/g)?.length).toBe(text.match(/::endgroup::/g)?.length);
    expect(text).toContain('#3 [final 2/3] WORKDIR /app');
  });

  it('names groups after the stage in the step name', () => {
    expect(stageOf('[build 2/3] RUN make')).toBe('build');
    expect(stageOf('[internal] load build context')).toBe('internal');
    expect(stageOf('exporting to image')).toBe('exporting to image');
    // A single unnamed stage: one group for all its steps.
    expect(stageOf('[1/3] FROM busybox')).toBe('');
    expect(stageOf('[3/3] COPY app.txt /app.txt')).toBe('');
  });
});

describe('workflow commands', () => {
  afterEach(() => vi.restoreAllMocks());

  /** What @actions/core writes for the same command, the reference for the escaping. */
  function coreOutput(fn: () => void): string {
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out += String(chunk);
      return true;
    });
    fn();
    vi.restoreAllMocks();
    return out.trimEnd();
  }

  it('escape messages and properties exactly as @actions/core does', () => {
    const message = 'line 1\r\nline 2: 100% done, really';
    const props = { title: 'a: b, c%\nd', file: 'dir,x/Docker:file', startLine: 3, endLine: 5 };
    expect(
      formatCommand(
        'error',
        { title: props.title, file: props.file, line: 3, endLine: 5 },
        message,
      ),
    ).toBe(coreOutput(() => core.error(message, props)));
    expect(formatCommand('warning', {}, message)).toBe(coreOutput(() => core.warning(message)));
    expect(formatCommand('add-mask', {}, 's3cr%t\nx')).toBe(
      coreOutput(() => core.setSecret('s3cr%t\nx')),
    );
  });
});
