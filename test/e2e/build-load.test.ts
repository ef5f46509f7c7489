/**
 * `--load` hands the image to a running Docker daemon. Only where one answers
 * (`docker info`); elsewhere the test is skipped and says why.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBusyboxImage } from '../helpers/base-images.ts';
import { build, makeContext } from '../helpers/build-harness.ts';

const daemon = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
const tag = `tbuild-e2e-load/app:${process.pid}`;
let store: string;

beforeAll(async () => {
  if (!daemon) return;
  store = mkdtempSync(path.join(os.tmpdir(), 'tbuild-store-'));
  await ensureBusyboxImage(store);
});
afterAll(() => {
  if (!daemon) return;
  spawnSync('docker', ['rmi', '-f', tag], { stdio: 'ignore' });
  rmSync(store, { recursive: true, force: true });
});

describe.skipIf(!daemon)('tbuild build --load (needs a Docker daemon; skipped without one)', () => {
  it('loads the built image into Docker, which runs it', async () => {
    const ctx = await makeContext({
      Dockerfile:
        'FROM localhost:5000/busybox:latest\nENV WHO=tbuild\nCMD ["sh", "-c", "echo built by $WHO"]\n',
    });
    const run = await build(store, ctx, ['--load', '-t', tag]);
    expect(run.code).toBe(0);
    const out = execFileSync('docker', ['run', '--rm', '--network=host', tag]).toString();
    expect(out).toBe('built by tbuild\n');
  });
});
