/**
 * What a user sees when the other end of an output is missing: `--load` without a docker CLI
 * or without a daemon, and `-o type=tar,dest=- | head`. A clear error with an exit code, or
 * a quiet end, never a stack trace. The docker CLI is real (the daemon is made unreachable
 * with DOCKER_HOST); "no docker CLI" is a PATH without it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBusyboxImage } from '../helpers/base-images.ts';
import { makeContext } from '../helpers/build-harness.ts';
import { runTbuild, TBUILD_BIN } from '../helpers/run-tbuild.ts';

const hasDockerCli = spawnSync('docker', ['--version'], { stdio: 'ignore' }).status === 0;
let work: string;
let store: string;
let context: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'tbuild-output-closed-'));
  store = path.join(work, 'store');
  await ensureBusyboxImage(store);
  context = await makeContext({
    Dockerfile: 'FROM localhost:5000/busybox:latest\nRUN head -c 300000 /dev/urandom > /big\n',
  });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A PATH with every program of the usual directories except docker's. */
function pathWithoutDocker(): string {
  const dir = path.join(work, 'bin-without-docker');
  mkdirSync(dir, { recursive: true });
  for (const from of (process.env.PATH ?? '').split(':')) {
    if (!from || !existsSync(from)) continue;
    for (const name of readdirSync(from)) {
      if (name.startsWith('docker') || existsSync(path.join(dir, name))) continue;
      symlinkSync(path.join(from, name), path.join(dir, name));
    }
  }
  return dir;
}

describe('--load with no docker to load into', () => {
  it('says the docker CLI is missing, exit 1, no stack trace', async () => {
    const result = await runTbuild(
      ['build', '--root', store, '-q', '--load', '-t', 'x:1', context],
      {
        env: { PATH: pathWithoutDocker() },
      },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--load: cannot run docker: the docker CLI is not installed');
    expect(result.stderr).toContain('hint:');
    expect(result.stderr).not.toMatch(/ENOENT|internal|\n\s+at /);
  });

  it.skipIf(!hasDockerCli)('says docker load failed when the daemon does not answer', async () => {
    const result = await runTbuild(
      ['build', '--root', store, '-q', '--load', '-t', 'x:1', context],
      {
        env: { DOCKER_HOST: `unix://${path.join(work, 'no-daemon.sock')}` },
      },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--load: docker load failed \(exit 1\): Cannot connect/);
    expect(result.stderr).not.toMatch(/EPIPE|internal|\n\s+at /);
  });
});

describe('-o type=tar,dest=- into a reader that stops early (| head)', () => {
  it('ends quietly with exit 141, as a SIGPIPE’d process', async () => {
    const child = spawn(
      process.execPath,
      [TBUILD_BIN, 'build', '--root', store, '-q', '-o', 'type=tar,dest=-', context],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    let got = 0;
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    // `head -c 1000`: read a little, then close the pipe.
    child.stdout.on('data', (c: Buffer) => {
      got += c.length;
      if (got >= 1000) child.stdout.destroy();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(got).toBeGreaterThan(0);
    expect(code).toBe(141);
    expect(stderr).toBe('');
  });
});
