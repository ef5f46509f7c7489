/** Lowering: build stages, and what a stage built FROM another inherits. */
import { describe, expect, it } from 'vitest';
import { findOrderViolations } from '../llb/index.ts';
import { descriptions, errorOf, lastExec, lower, opsOf } from './testing/lower.ts';

describe('stages', () => {
  const multi = [
    'FROM alpine:3.20 AS Base',
    'RUN echo base',
    'FROM base AS build',
    'RUN echo build',
    'FROM alpine:3.20 AS unused',
    'RUN echo unused',
    'FROM scratch',
    'COPY --from=BUILD /out /out',
    '',
  ].join('\n');

  it('builds only the stages the target needs', async () => {
    const r = await lower(multi);
    const runs = opsOf(r.definition, 'exec').map((op) => op.args.at(-1));
    expect(runs).toEqual(['echo base', 'echo build']);
    expect(r.stages.map((s) => s.used)).toEqual([true, true, false, true]);
    expect(findOrderViolations(r.definition)).toEqual([]);
  });

  it('stops at --target, case-insensitively', async () => {
    const r = await lower(multi, { target: 'BASE' });
    expect(opsOf(r.definition, 'exec').map((op) => op.args.at(-1))).toEqual(['echo base']);
    expect(r.target).toBe(0);
  });

  it('suggests the closest stage for an unknown --target', async () => {
    const err = await errorOf(lower(multi, { target: 'buidl' }));
    expect(err.code).toBe('TBUILD_UNKNOWN_TARGET');
    expect(err.hint).toBe('Did you mean "build"?');
  });

  it('copies from a stage by index and from an image by name', async () => {
    const r = await lower(
      'FROM alpine:3.20\nRUN echo 0\nFROM scratch\nCOPY --from=0 /a /a\nCOPY --from=busybox /bin/sh /sh\n',
    );
    expect(
      opsOf(r.definition, 'source').map((op) => op.source.type === 'image' && op.source.ref),
    ).toEqual(['docker.io/library/alpine:3.20', 'docker.io/library/busybox:latest']);
  });

  it('refuses a stage copying from itself and a missing stage index', async () => {
    expect((await errorOf(lower('FROM alpine:3.20 AS a\nCOPY --from=a /x /y\n'))).code).toBe(
      'TBUILD_INVALID_STAGE_REFERENCE',
    );
    expect((await errorOf(lower('FROM alpine:3.20\nCOPY --from=3 /x /y\n'))).message).toContain(
      'no stage 3',
    );
  });

  it('refuses a cycle between stages', async () => {
    const err = await errorOf(
      lower(
        'FROM alpine:3.20 AS a\nCOPY --from=b /x /x\nFROM alpine:3.20 AS b\nCOPY --from=a /y /y\n',
      ),
    );
    expect(err.message).toContain('circular dependency');
  });

  it('reports an unknown base image with its line', async () => {
    const err = (await errorOf(lower('FROM nosuch/image:1\n'))) as {
      code: string;
      location?: { range?: { start: number } };
    };
    expect(err.code).toBe('TBUILD_BASE_IMAGE_NOT_FOUND');
    expect(err.location?.range?.start).toBe(1);
  });

  it('names steps like BuildKit', async () => {
    const r = await lower(multi);
    expect(descriptions(r.definition)).toEqual([
      '[base 1/2] FROM docker.io/library/alpine:3.20',
      '[base 2/2] RUN echo base',
      // A stage built on another counts only its own steps (Docker 28.5: [stage-2 1/3]).
      '[build 1/1] RUN echo build',
      '[stage-3 1/1] COPY --from=BUILD /out /out',
    ]);
    const single = await lower('FROM alpine:3.20\nRUN a\nRUN b\n');
    expect(descriptions(single.definition)).toEqual([
      '[1/3] FROM docker.io/library/alpine:3.20',
      '[2/3] RUN a',
      '[3/3] RUN b',
    ]);
  });

  it('runs the base image ONBUILD triggers right after FROM and does not pass them on', async () => {
    const r = await lower('FROM onbuild:1\nRUN mine\n');
    expect(opsOf(r.definition, 'exec').map((op) => op.args.at(-1))).toEqual([
      'echo triggered',
      'mine',
    ]);
    expect(r.image.config.WorkingDir).toBe('/built');
    expect(r.image.config.OnBuild).toBeNull();
  });
});

describe('what a stage built FROM another stage inherits (as in BuildKit)', () => {
  it("keeps the parent stage's ARGs in scope: RUN sees their values", async () => {
    const r = await lower('FROM alpine:3.20 AS base\nARG FOO=bar\nFROM base\nRUN echo $FOO\n');
    expect(lastExec(r.definition).env).toContain('FOO=bar');
    expect(r.image.history?.at(-1)?.created_by).toBe(
      'RUN |1 FOO=bar /bin/sh -c echo $FOO # buildkit',
    );
  });

  it('lets a repeated stage name through: FROM sees the latest before it, --from the last', async () => {
    const r = await lower(
      [
        'FROM alpine:3.20 AS build',
        'ENV WHICH=first',
        'FROM build AS build',
        'ENV WHICH=second',
        'FROM alpine:3.20 AS build',
        'ENV WHICH=third',
        'FROM alpine:3.20',
        'COPY --from=build /x /x',
      ].join('\n'),
      { target: 'build' },
    );
    // --target build is the last stage of that name.
    expect(r.target).toBe(2);
    expect(r.warnings.map((w) => w.rule)).toEqual(['DuplicateStageName', 'DuplicateStageName']);
    const second = await lower(
      'FROM alpine:3.20 AS build\nENV WHICH=first\nFROM build AS build\nENV B=$WHICH\n',
    );
    expect(second.image.config.Env).toContain('B=first');
  });
});
