/**
 * The build API as a program uses it: one builder, several builds, typed options, the
 * caller's own progress sink, streams and abort signal. Real runc, a busybox base image.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBuilder, type Builder, type ProgressEvent } from '../../src/builder/index.ts';
import { formatError } from '../../src/cli/errors.ts';
import { makeContext, useBuildStore } from '../helpers/build-harness.ts';

const dirs = useBuildStore();
let builder: Builder;

beforeAll(async () => {
  builder = await createBuilder({ root: dirs.store, parallelism: 2 });
});
afterAll(() => builder.close());

const BASE = 'FROM localhost:5000/busybox\n';

describe('the build API', () => {
  it('runs builds with typed options and reports steps, metadata and warnings', async () => {
    const context = await makeContext({
      Dockerfile: `${BASE}ARG GREETING\nRUN echo "$GREETING" > /greeting\nMAINTAINER someone\n`,
    });
    const events: ProgressEvent[] = [];
    const iidfile = path.join(dirs.scratch, 'api-iid');
    const first = await builder.build(
      { context, buildArgs: { GREETING: 'hi' }, tags: ['api-test:1'], iidfile },
      { onProgress: (e) => events.push(e) },
    );
    expect(first.imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(first.metadata['containerimage.config.digest']).toBe(first.imageId);
    expect(first.metadata['image.name']).toBe('api-test:1');
    expect(readFileSync(iidfile, 'utf8')).toBe(first.imageId);
    const run = first.steps.find((s) => s.name.includes('RUN echo'));
    expect(run).toMatchObject({ status: 'ran' });
    expect(run?.cacheMiss).toMatch(/no cache record/);
    expect(first.warnings.map((w) => w.message).join('\n')).toMatch(/MAINTAINER/i);
    expect(events.some((e) => e.type === 'build.completed' && e.ok)).toBe(true);

    // The same builder again: everything comes from the cache, same image.
    const second = await builder.build({ context, buildArgs: { GREETING: 'hi' } });
    expect(second.imageId).toBe(first.imageId);
    expect(second.steps.filter((s) => s.name.includes('RUN')).map((s) => s.status)).toEqual([
      'cached',
    ]);
  });

  it('keeps each failing build with its own Dockerfile, also when builds run at once', async () => {
    const a = await makeContext({ Dockerfile: `${BASE}RUN echo a\nRUN exit 3\n` });
    const b = await makeContext({ Dockerfile: `${BASE}\n\nRUN exit 4\n` });
    const [ea, eb] = await Promise.all([
      builder.build({ context: a }).then(
        () => undefined,
        (e: unknown) => e,
      ),
      builder.build({ context: b }).then(
        () => undefined,
        (e: unknown) => e,
      ),
    ]);
    expect(formatError(ea).text).toContain('>>> RUN exit 3');
    expect(formatError(ea).text).toContain('RUN echo a');
    expect(formatError(eb).text).toContain(' 4 | >>> RUN exit 4');
    expect(formatError(eb).text).not.toContain('RUN exit 3');
  });

  it('writes dest=- to the stream the caller gives, and leaves it open', async () => {
    const context = await makeContext({ Dockerfile: `${BASE}RUN echo hi > /hi\n` });
    const stdout = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on('data', (c: Buffer) => chunks.push(c));
    await builder.build(
      { context, outputs: [{ type: 'tar', dest: '-', names: [], push: false, attrs: {} }] },
      { stdout },
    );
    expect(stdout.writableEnded).toBe(false);
    const tar = Buffer.concat(chunks);
    expect(tar.length).toBeGreaterThan(1024);
    expect(tar.includes(Buffer.from('hi\n'))).toBe(true);
  });

  it('reads env secrets from the run environment, not the process', async () => {
    const context = await makeContext({
      Dockerfile: `${BASE}RUN --mount=type=secret,id=tok,env=TOK test "$TOK" = from-run\n`,
    });
    process.env.TOKEN_FOR_API_TEST = 'from-process';
    try {
      await builder.build(
        { context, secrets: [{ id: 'tok', env: 'TOKEN_FOR_API_TEST' }] },
        { env: { TOKEN_FOR_API_TEST: 'from-run' } },
      );
    } finally {
      delete process.env.TOKEN_FOR_API_TEST;
    }
  });

  it('stops a running build when the caller aborts, leaving no container behind', async () => {
    const context = await makeContext({ Dockerfile: `${BASE}RUN sleep 60\n` });
    const abort = new AbortController();
    const building = builder.build(
      { context },
      {
        signal: abort.signal,
        onProgress: (e) => {
          if (e.type === 'vertex.started' && e.name.includes('sleep')) abort.abort();
        },
      },
    );
    await expect(building).rejects.toMatchObject({ code: 'TBUILD_CANCELLED', exitCode: 130 });
    const state = path.join(dirs.store, 'runc', 'runc');
    expect(readdirSync(state, { withFileTypes: true }).filter((d) => d.isDirectory())).toEqual([]);
  });

  it('lowers without running anything', async () => {
    const context = await makeContext({ Dockerfile: `${BASE}RUN echo never\n` });
    const lowered = await builder.lower({ context });
    const descriptions = Object.values(lowered.definition.metadata).map((m) => m.description);
    expect(descriptions.some((d) => d?.includes('RUN echo never'))).toBe(true);
  });
});
