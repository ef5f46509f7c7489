/**
 * Why a step reran, as a user reads it in --progress=json/plain: the file, the ARG, the
 * command, the base image digest or the parent step that changed since the last build.
 */
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { build, makeContext, useBuildStore, type BuildRun } from '../helpers/build-harness.ts';
import { ensureBusyboxImage } from '../helpers/base-images.ts';

const dirs = useBuildStore();

/** Why each step reran, by the instruction keyword it starts with (FROM, COPY, RUN). */
function reasons(run: BuildRun): Record<string, string> {
  expect(run.code, run.stderr).toBe(0);
  return Object.fromEntries(
    run.events.flatMap((e) =>
      e.type === 'vertex.cache-miss'
        ? [[/\b(FROM|COPY|RUN)\b/.exec(e.name)?.[1] ?? e.name, e.reason]]
        : [],
    ),
  );
}

describe('cache-miss reasons', () => {
  it('name the file, the ARG, the command and the parent step that changed', async () => {
    const context = await makeContext({
      Dockerfile: [
        'FROM localhost:5000/busybox',
        'ARG MODE=debug',
        'COPY src /src',
        'RUN echo "$MODE" > /mode; cat /src/* > /all',
        '',
      ].join('\n'),
      'src/a.txt': 'a\n',
      'src/b.txt': 'b\n',
    });
    const dockerfile = path.join(context, 'Dockerfile');
    reasons(await build(dirs.store, context));

    appendFileSync(path.join(context, 'src/a.txt'), 'more\n');
    writeFileSync(path.join(context, 'src/c.txt'), 'c\n');
    rmSync(path.join(context, 'src/b.txt'));
    expect(reasons(await build(dirs.store, context))).toEqual({
      COPY: 'src/a.txt changed, src/c.txt added, src/b.txt removed',
      RUN: 'parent step "[2/3] COPY src /src" changed',
    });

    expect(reasons(await build(dirs.store, context, ['--build-arg', 'MODE=release']))).toEqual({
      RUN: 'ARG/ENV MODE changed',
    });

    writeFileSync(
      dockerfile,
      'FROM localhost:5000/busybox\nARG MODE=debug\nCOPY src /src\nRUN echo "$MODE" > /mode\n',
    );
    expect(reasons(await build(dirs.store, context, ['--build-arg', 'MODE=release']))).toEqual({
      RUN: 'the command changed',
    });
  });

  it('give the digest a base image now resolves to', async () => {
    const ref = 'localhost:5000/reasons-base:1';
    await ensureBusyboxImage(dirs.store, { ref });
    const context = await makeContext({ Dockerfile: `FROM ${ref}\nRUN echo hi > /hi\n` });
    reasons(await build(dirs.store, context));
    // The same name, another image: a base image that was updated.
    await ensureBusyboxImage(dirs.store, { ref, changes: ['LABEL updated=1'] });
    const got = reasons(await build(dirs.store, context));
    expect(got.RUN).toMatch(/^parent step ".*FROM localhost:5000\/reasons-base:1" changed$/);
    expect(got.FROM).toMatch(
      /^base image localhost:5000\/reasons-base:1 now resolves to sha256:[0-9a-f]{12} \(was sha256:[0-9a-f]{12}\)$/,
    );
  });
});
