/**
 * Issue 14's soak: tbuild SIGKILLed 25 times at random points of a build (its RUN), an
 * export, a pull and a prune, then 8 builds at once on the same store. Afterwards every
 * blob re-hashes (`tbuild check`), no mount of the store and no runc container is left, and
 * the next build succeeds. Real runc, real overlay mounts, a real loopback registry.
 */
import { spawn } from 'node:child_process';
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBusyboxImage } from '../helpers/base-images.ts';
import { makeContext, useBuildStore } from '../helpers/build-harness.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { runTbuild, TBUILD_BIN } from '../helpers/run-tbuild.ts';

const dirs = useBuildStore();
let registry: TestRegistry;
let base: string;
let context: string;

beforeAll(async () => {
  registry = await startRegistry();
  base = `${registry.host}/busybox:kill`;
  await ensureBusyboxImage(dirs.store, { ref: base });
  const pushed = await runTbuild(['push', '--root', dirs.store, base]);
  expect(pushed.code, pushed.stderr).toBe(0);
  context = await makeContext({
    Dockerfile: [
      `FROM ${base}`,
      'ARG ROUND=0',
      'COPY data /data',
      // Long enough that a kill lands inside the RUN as often as around it.
      'RUN for i in $(seq 1 300); do echo "$ROUND $i" > /data/f$i; done; sleep 0.5',
      '',
    ].join('\n'),
    data: 'payload\n'.repeat(1000),
  });
}, 120_000);
afterAll(async () => {
  await registry?.stop();
  if (context) await rm(context, { recursive: true, force: true });
});

/** Run tbuild and SIGKILL it after `afterMs` (if it is still running). */
function killAfter(args: string[], afterMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TBUILD_BIN, ...args], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), afterMs);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Mount points under the store, from this process's mount table. */
async function storeMounts(): Promise<string[]> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  return table
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((mountPoint) => mountPoint.startsWith(dirs.store + '/'));
}

describe('tbuild killed at random points, then 8 builds at once', () => {
  it('leaves a store whose blobs re-hash, with no mount or container left, that builds', async () => {
    const root = ['--root', dirs.store];
    const operations: Array<(round: number) => string[]> = [
      (round) => ['build', ...root, '-q', '--build-arg', `ROUND=${round}`, context],
      (round) => [
        'build',
        ...root,
        '-q',
        '--build-arg',
        `ROUND=${round % 3}`,
        '-o',
        `type=oci,dest=${path.join(dirs.scratch, `kill-${round}.tar`)}`,
        context,
      ],
      () => ['pull', ...root, '--platform', 'linux/amd64', base],
      () => ['prune', ...root, '-f'],
    ];
    for (let round = 0; round < 25; round++) {
      const operation = operations[round % operations.length]!;
      await killAfter(operation(round), 100 + Math.floor(Math.random() * 1400));
    }

    const concurrent = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        runTbuild(['build', ...root, '-q', '--build-arg', `ROUND=c${i % 4}`, context]),
      ),
    );
    for (const build of concurrent) expect(build.code, build.stderr).toBe(0);

    const next = await runTbuild(['build', ...root, '-q', '--build-arg', 'ROUND=next', context]);
    expect(next.code, next.stderr).toBe(0);
    const check = await runTbuild(['check', ...root]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/no problems found/);
    expect(await storeMounts()).toEqual([]);
    expect(await readdir(path.join(dirs.store, 'runc', 'runc')).catch(() => [])).toEqual([]);
  }, 600_000);
});
