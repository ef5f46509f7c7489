/**
 * Progress as a docker user reads it (BuildKit's plain output): every step listed on a
 * no-op rebuild, BuildKit's step counters, the export's lines, and -q that still explains
 * a failure.
 */
import { describe, expect, it } from 'vitest';
import { makeContext, useBuildStore } from '../helpers/build-harness.ts';
import { runBuildInProcess } from '../helpers/run-tbuild.ts';

const dirs = useBuildStore();

const plain = (context: string, ...args: string[]) =>
  runBuildInProcess(['build', '--root', dirs.store, '--progress=plain', ...args, context]);

/** `#N` lines of plain output grouped by step: title → the step's other lines. */
function stepsOf(stderr: string): Map<string, string[]> {
  const titles = new Map<string, string>();
  const steps = new Map<string, string[]>();
  for (const line of stderr.split('\n')) {
    const match = /^#(\d+) (.*)$/.exec(line);
    if (!match) continue;
    const [, n, text] = match as unknown as [string, string, string];
    const title = titles.get(n);
    if (title === undefined) {
      titles.set(n, text);
      steps.set(text, []);
    } else steps.get(title)!.push(text);
  }
  return steps;
}

describe('build progress', () => {
  it('lists every step as CACHED on a no-op rebuild, with counters and export lines', async () => {
    const context = await makeContext({
      Dockerfile: [
        'FROM localhost:5000/busybox:latest AS base',
        'RUN echo base > /base',
        'FROM base',
        'COPY a.txt /a.txt',
        'RUN cat /a.txt',
        '',
      ].join('\n'),
      'a.txt': 'a\n',
    });
    expect((await plain(context, '-t', 'progress-test:1')).code).toBe(0);
    const again = await plain(context, '-t', 'progress-test:1');
    expect(again.code, again.stderr).toBe(0);
    const steps = stepsOf(again.stderr);
    const from = [...steps.keys()].find((t) => t.startsWith('[base 1/2] FROM '));
    expect(from).toMatch(/^\[base 1\/2\] FROM localhost:5000\/busybox:latest/);
    for (const title of [
      from!,
      '[base 2/2] RUN echo base > /base',
      '[stage-1 1/2] COPY a.txt /a.txt',
      '[stage-1 2/2] RUN cat /a.txt',
    ])
      expect(steps.get(title), `${title} in\n${again.stderr}`).toEqual(['CACHED']);
    const exported = steps.get('exporting to image')!;
    expect(exported[0]).toMatch(/^exporting layers (\d+\.\ds )?done$/);
    expect(exported[1]).toMatch(/^writing image sha256:[0-9a-f]{64} (\d+\.\ds )?done$/);
    expect(exported[2]).toMatch(
      /^naming to docker\.io\/library\/progress-test:1 (\d+\.\ds )?done$/,
    );
    expect(exported[3]).toMatch(/^DONE \d+\.\ds$/);
  });

  it('prints the failing step log with -q, since nothing else was shown', async () => {
    const context = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox:latest\nRUN echo building; echo oops >&2; exit 3\n',
    });
    const run = await runBuildInProcess(['build', '--root', dirs.store, '-q', context]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    // The step's two streams arrive through two pipes: their order is not the test's to fix.
    const block =
      /^------\n > \[2\/2\] RUN echo building; echo oops >&2; exit 3:\n((?:\d\.\d{3} .*\n)+)------\n/.exec(
        run.stderr,
      );
    expect(
      block?.[1]
        ?.split('\n')
        .filter(Boolean)
        .map((l) => l.slice(6))
        .sort(),
    ).toEqual(['building', 'oops']);
    expect(run.stderr).toContain('did not complete successfully: exit code: 3');
  });
});
