/**
 * The up-to-date check (ADR 23) through the real binary: the same command, with nothing
 * it reads changed, is answered from the memo of its last repeatable build; any change to
 * the context, the flags, the store's names or cache, or a remote input is a build.
 */
import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BUSYBOX_REF } from '../helpers/base-images.ts';
import { makeContext, useBuildStore } from '../helpers/build-harness.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';

const dirs = useBuildStore();
const UP_TO_DATE = /up to date: nothing changed since the build at \d\d:\d\d:\d\d/;

/** `tbuild build --root STORE …args CONTEXT`, after the inputs' times have settled. */
async function build(context: string, ...args: string[]) {
  await sleep(60); // a change younger than the times' clock can tell apart is never memoized
  const run = await runTbuild(['build', '--root', dirs.store, ...args, context]);
  expect(run.code, run.stderr).toBe(0);
  return run;
}

const tbuild = (...args: string[]) => runTbuild([...args, '--root', dirs.store]);

describe('the up-to-date check', () => {
  it('answers a repeated build from its memo until an input or the store changes', async () => {
    expect((await tbuild('tag', BUSYBOX_REF, 'utd-base:1')).code).toBe(0);
    const context = await makeContext({
      Dockerfile: 'FROM utd-base:1\nCOPY src /src\nRUN cat /src/* > /all\n',
      'src/a.txt': 'a\n',
    });
    const first = await build(context, '-t', 'utd:1');
    expect(first.stderr).not.toMatch(UP_TO_DATE);
    const id = (await build(context, '-t', 'utd:1', '-q')).stdout.trim();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);

    // Built once without a change to the store: the memo is kept, and the third answers.
    const second = await build(context, '-t', 'utd:1');
    expect(second.stderr).toMatch(/CACHED/);
    const third = await build(context, '-t', 'utd:1');
    expect(third.stderr).toMatch(UP_TO_DATE);
    expect(third.stderr).toContain(`writing image ${id}`);
    expect(third.stderr).toContain('naming to docker.io/library/utd:1 done');
    expect(third.stderr).not.toMatch(/CACHED|RUN cat/);
    // -q is an invocation of its own, with a memo of its own: its ID on stdout.
    await build(context, '-t', 'utd:1', '-q');
    const quiet = await build(context, '-t', 'utd:1', '-q');
    expect(quiet).toMatchObject({ stdout: `${id}\n`, stderr: '' });

    // Another flag is another invocation: built (cached) and not answered by this memo.
    const other = await build(context, '-t', 'utd:1', '--build-arg', 'X=1');
    expect(other.stderr).not.toMatch(UP_TO_DATE);

    // A source file changed: built again, a new image.
    appendFileSync(path.join(context, 'src/a.txt'), 'more\n');
    const changed = await build(context, '-t', 'utd:1', '-q');
    expect(changed.stdout.trim()).not.toBe(id);
    const changedId = changed.stdout.trim();
    await build(context, '-t', 'utd:1', '-q'); // keeps the memo of the new inputs
    expect((await build(context, '-t', 'utd:1', '-q')).stdout.trim()).toBe(changedId);

    // The name removed from the store: the build runs and names the image again.
    expect((await tbuild('rm', 'utd:1')).code).toBe(0);
    const renamed = await build(context, '-t', 'utd:1');
    expect(renamed.stderr).not.toMatch(UP_TO_DATE);
    expect(renamed.stderr).toContain('naming to docker.io/library/utd:1 done');
    expect((await tbuild('images')).stdout).toMatch(/^utd\s+1\s+/m);

    // The base's name moved to another image: FROM means something else now.
    await build(context, '-t', 'utd:1');
    expect((await build(context, '-t', 'utd:1')).stderr).toMatch(UP_TO_DATE);
    expect((await tbuild('tag', changedId, 'utd-base:1')).code).toBe(0);
    const rebased = await build(context, '-t', 'utd:1', '-q');
    expect(rebased.stdout.trim()).not.toBe(changedId);
  });

  it('answers when only what .dockerignore excludes changed, as the build agrees', async () => {
    const context = await makeContext({
      Dockerfile: `FROM ${BUSYBOX_REF}\nCOPY . /app\n`,
      '.dockerignore': 'scratch\n',
      'main.txt': 'main\n',
      'scratch/notes.txt': 'notes\n',
    });
    const id = (await build(context, '-t', 'utd-ignore:1', '-q')).stdout.trim();
    await build(context, '-t', 'utd-ignore:1'); // nothing to build: keeps a memo
    appendFileSync(path.join(context, 'scratch/notes.txt'), 'more\n');
    const answered = await build(context, '-t', 'utd-ignore:1');
    expect(answered.stderr).toMatch(UP_TO_DATE);
    expect(answered.stderr).toContain(`writing image ${id}`);
    // A build that runs (another invocation: an unused build arg) gives the same image.
    const built = await build(context, '-t', 'utd-ignore:1', '-q', '--build-arg', 'UNUSED=1');
    expect(built.stdout.trim()).toBe(id);
  });

  it('writes --iidfile again when it answers', async () => {
    const context = await makeContext({ Dockerfile: `FROM ${BUSYBOX_REF}\nRUN echo iid > /iid\n` });
    const iidfile = path.join(dirs.scratch, 'utd.iid');
    await build(context, '-t', 'utd-iid:1', '--iidfile', iidfile);
    await build(context, '-t', 'utd-iid:1', '--iidfile', iidfile);
    const id = readFileSync(iidfile, 'utf8');
    rmSync(iidfile);
    const answered = await build(context, '-t', 'utd-iid:1', '--iidfile', iidfile);
    expect(answered.stderr).toMatch(UP_TO_DATE);
    expect(readFileSync(iidfile, 'utf8')).toBe(id);
  });

  it('never answers for a build that reads a URL', async () => {
    let served = 0;
    const server = createServer((_req, res) => {
      served++;
      res.end('remote\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const context = await makeContext({
        Dockerfile: `FROM ${BUSYBOX_REF}\nADD http://127.0.0.1:${port}/file /file\n`,
      });
      for (let i = 0; i < 3; i++)
        expect((await build(context, '-t', 'utd-url:1')).stderr).not.toMatch(UP_TO_DATE);
      expect(served).toBeGreaterThanOrEqual(3);
    } finally {
      server.close();
    }
  });

  it('never answers for a build with an output', async () => {
    const context = await makeContext({ Dockerfile: `FROM ${BUSYBOX_REF}\nRUN true\n` });
    const dest = path.join(dirs.scratch, 'utd.tar');
    for (let i = 0; i < 3; i++) {
      const run = await build(context, '-o', `type=docker,dest=${dest}`);
      expect(run.stderr).not.toMatch(UP_TO_DATE);
    }
  });
});
