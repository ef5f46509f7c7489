/**
 * The RUN sandbox through the CLI: the isolated default network (the host's loopback out of
 * reach), the entitlements that host networking needs, and that no container outlives a
 * killed tbuild.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, makeContext, startBuildUntil, useBuildStore } from '../helpers/build-harness.ts';

const dirs = useBuildStore();

describe('the RUN network', () => {
  // A service only the host should reach, as a host-only registry or a metadata endpoint.
  const service = createServer((socket) => socket.end('hello\n'));
  let port = 0;
  let context = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
    port = (service.address() as { port: number }).port;
    context = await makeContext({
      Dockerfile: [
        'FROM localhost:5000/busybox:latest',
        'ARG PORT',
        'RUN ls /sys/class/net | tr "\\n" " " > /ifaces; (nc -w 3 127.0.0.1 $PORT </dev/null || echo unreachable) > /loopback',
        '',
      ].join('\n'),
    });
  });
  afterAll(() => service.close());

  const outputOf = async (name: string, args: string[]) => {
    const dest = path.join(dirs.scratch, name);
    const run = await build(dirs.store, context, [
      '--build-arg',
      `PORT=${port}`,
      '-o',
      `type=local,dest=${dest}`,
      ...args,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const read = (file: string) => readFileSync(path.join(dest, file), 'utf8');
    return { ifaces: read('ifaces'), loopback: read('loopback') };
  };

  it("is isolated by default: the host's 127.0.0.1 services are out of reach", async () => {
    expect(await outputOf('default', [])).toEqual({
      ifaces: 'lo tap0 ',
      loopback: 'unreachable\n',
    });
  });

  it('is the host network with --network=host, which needs --allow network.host', async () => {
    const refused = await build(dirs.store, context, ['--network=host']);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toContain('--network=host needs the network.host entitlement');
    const host = await outputOf('host', ['--network=host', '--allow', 'network.host']);
    expect(host.loopback).toBe('hello\n');
  });

  it('fails RUN --network=host at its line without the entitlement', async () => {
    const ctx = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox:latest\nRUN --network=host true\n',
    });
    const run = await build(dirs.store, ctx);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/RUN --network=host needs the network.host entitlement/);
    expect(run.stderr).toMatch(/>>> RUN --network=host true/);
    expect(run.stderr).toMatch(/hint: Build with --allow network.host/);
    const allowed = await build(dirs.store, ctx, ['--allow', 'network.host']);
    expect(allowed.code, allowed.stderr).toBe(0);
  });
});

describe('a killed tbuild', () => {
  /** Processes whose command line contains `text` (ps, not this test's own). */
  const processesWith = (text: string) =>
    spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((line) => line.includes(text) && !line.includes('ps -eo'));
  const runningContainers = (store: string) =>
    execFileSync('runc', ['--root', path.join(store, 'runc', 'runc'), 'list', '-q'], {
      encoding: 'utf8',
    }).trim();

  it('takes its RUN container with it, and the next build works', async () => {
    // A distinct duration names this build's container process.
    const ctx = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox:latest\nRUN echo start && sleep 7713\n',
    });
    const otherSlirps = processesWith('slirp4netns');
    const running = await startBuildUntil(dirs.store, ctx, /sleep 7713/);
    // Until the container runs: the step starts before runc does.
    for (let i = 0; i < 100 && processesWith('sleep 7713').length === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(processesWith('sleep 7713')).toHaveLength(1);
    // The build's network: its slirp4netns must go too.
    const ours = () => processesWith('slirp4netns').filter((p) => !otherSlirps.includes(p));
    expect(ours()).toHaveLength(1);
    running.kill(); // SIGKILL
    await running.exited;
    const leftovers = () => [...processesWith('sleep 7713'), ...ours()];
    for (let i = 0; i < 50 && leftovers().length > 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(leftovers()).toEqual([]);
    expect(runningContainers(dirs.store)).toBe('');
    const next = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox:latest\nRUN echo after > /after\n',
    });
    const run = await build(dirs.store, next);
    expect(run.code, run.stderr).toBe(0);
    const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
    expect(mountinfo.split('\n').filter((l) => l.includes(dirs.store))).toEqual([]);
  });
});
