import { execFileSync, spawnSync } from 'node:child_process';
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listMounts, mountOverlay, unmountAll, type Mount } from '../../src/exec/overlay.ts';
import { cleanupStaleContainers, createRuncExecutor } from '../../src/exec/runc.ts';
import type { Executor, RunResult, RunSpec } from '../../src/exec/types.ts';
import { resolveUser } from '../../src/exec/user.ts';
import { makeBusyboxRootfs } from '../helpers/busybox-rootfs.ts';

let root: string;
let snapshots: string;
let stateDir: string;
let nextId = 2;
/** The executor runShell uses; a fresh one per run unless a test sets one. */
let sharedExecutor: Executor | undefined;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'tbuild-exec-'));
  snapshots = path.join(root, 'snapshots');
  stateDir = path.join(root, 'state');
  await makeBusyboxRootfs(path.join(snapshots, '1'));
});

afterAll(async () => {
  await unmountAll(root);
  await rm(root, { recursive: true, force: true });
});

interface Outcome extends RunResult {
  stdout: string;
  stderr: string;
  upper: string;
}

/** Mount busybox + a fresh upper, run `sh -c script` in it, unmount. */
async function runShell(
  script: string,
  spec: Partial<Omit<RunSpec, 'process'>> & { process?: Partial<RunSpec['process']> } = {},
  signal?: AbortSignal,
  lower = ['1'],
) {
  const id = String(nextId++);
  const target = path.join(root, 'mnt', id);
  const mount = await mountOverlay({
    snapshotsDir: snapshots,
    lower,
    upper: `${id}/fs`,
    work: `${id}/work`,
    target,
  });
  try {
    return await runIn(mount, script, spec, signal, path.join(snapshots, id, 'fs'));
  } finally {
    await mount.unmount();
  }
}

async function runIn(
  mount: Mount,
  script: string,
  spec: Partial<Omit<RunSpec, 'process'>> & { process?: Partial<RunSpec['process']> },
  signal: AbortSignal | undefined,
  upper: string,
): Promise<Outcome> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const executor = sharedExecutor ?? createRuncExecutor({ stateDir });
  const result = await executor.run(
    {
      rootfs: mount.target,
      mounts: [],
      network: 'host',
      security: 'sandbox',
      ...spec,
      process: {
        args: ['sh', '-c', script],
        env: [],
        cwd: '/',
        uid: 0,
        gid: 0,
        additionalGids: [],
        ...spec.process,
      },
    },
    { stdout: (c) => out.push(c), stderr: (c) => err.push(c) },
    signal ?? new AbortController().signal,
  );
  return {
    ...result,
    stdout: Buffer.concat(out).toString(),
    stderr: Buffer.concat(err).toString(),
    upper,
  };
}

/** Commands of this process's child processes. */
/** Child processes, but not the mount helper, which lives as long as the process (ADR 22). */
function listChildren(): string[] {
  // ps exits 1 when there are none.
  const { stdout } = spawnSync('ps', ['--ppid', String(process.pid), '-o', 'comm='], {
    encoding: 'utf8',
  });
  return stdout.split('\n').filter((name) => name !== '' && name !== 'ps' && name !== 'perl');
}

async function listTree(dir: string, prefix = ''): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix + entry.name;
    names.push(rel);
    if (entry.isDirectory()) names.push(...(await listTree(path.join(dir, entry.name), `${rel}/`)));
  }
  return names.sort();
}

describe('the runc executor', () => {
  it('runs a shell script on an overlay and leaves only its own changes in the upper dir', async () => {
    const run = await runShell('echo hi; id; pwd; cat /etc/hostname; touch /newfile; rm /bin/ls');
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('hi\nuid=0(root) gid=0(root)\n/\nbuildkitsandbox\n');
    // /dev, /proc and /sys stay as empty mount-point dirs, as with Docker's BuildKit.
    expect(await listTree(run.upper)).toEqual([
      'bin',
      'bin/ls',
      'dev',
      'etc',
      'newfile',
      'proc',
      'sys',
    ]);
    const whiteout = await lstat(path.join(run.upper, 'bin/ls'));
    expect(whiteout.isCharacterDevice() && whiteout.rdev === 0).toBe(true);
    // /etc was copied up to hold the /etc/hosts mount point; it must look untouched.
    const [upperEtc, lowerEtc] = await Promise.all([
      stat(path.join(run.upper, 'etc'), { bigint: true }),
      stat(path.join(snapshots, '1/etc'), { bigint: true }),
    ]);
    expect(upperEtc.mtimeNs).toBe(lowerEtc.mtimeNs);
    expect(run.createdPaths).toEqual(
      expect.arrayContaining(['/proc', '/dev', '/sys', '/etc/hosts', '/etc/resolv.conf']),
    );
  });

  it('puts back a whole-second directory time (as unpacked from a tar) exactly', async () => {
    // Node sets a whole second itself; a time with nanoseconds goes through touch (above).
    await utimes(path.join(snapshots, '1/etc'), 1_700_000_000, 1_700_000_000);
    const run = await runShell('true');
    expect(run.exitCode).toBe(0);
    const upperEtc = await stat(path.join(run.upper, 'etc'), { bigint: true });
    expect(upperEtc.mtimeNs).toBe(1_700_000_000_000_000_000n);
  });

  it('returns a non-zero exit code as a result', async () => {
    const run = await runShell('echo oops >&2; exit 3');
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toBe('oops\n');
  });

  it("gives the process Docker's default capabilities", async () => {
    const run = await runShell('grep CapEff /proc/self/status');
    expect(run.stdout.trim()).toBe('CapEff:\t00000000a80425fb');
  });

  it('gives --security=insecure every capability tbuild itself holds', async () => {
    const run = await runShell('grep CapEff /proc/self/status', { security: 'insecure' });
    const own = /CapBnd:\t(\w+)/.exec(await readFile('/proc/self/status', 'utf8'))?.[1];
    expect(run.stdout.trim()).toBe(`CapEff:\t${own}`);
  });

  // Docker's default seccomp profile refuses new user namespaces and the keyring to an
  // unprivileged container; --security=insecure runs unconfined.
  it('refuses new user namespaces in the sandbox, not with --security=insecure', async () => {
    const probe = 'unshare -U true && echo allowed || echo refused';
    expect((await runShell(probe)).stdout).toContain('refused');
    expect((await runShell(probe, { security: 'insecure' })).stdout).toContain('allowed');
    // Threads and processes still start (clone without CLONE_NEWUSER, clone3 falls back).
    expect((await runShell('sh -c "echo child" & wait')).stdout).toContain('child');
  });

  it('mounts resolv.conf through an image symlink into a missing dir and leaves no trace', async () => {
    await mkdir(path.join(snapshots, 'linked/etc'), { recursive: true });
    await symlink(
      '../run/systemd/resolve/stub-resolv.conf',
      path.join(snapshots, 'linked/etc/resolv.conf'),
    );
    const run = await runShell(
      'cat /etc/resolv.conf',
      { resolvConf: 'nameserver 192.0.2.53\n' },
      undefined,
      ['linked', '1'],
    );
    expect(run.stdout).toBe('nameserver 192.0.2.53\n');
    expect(run.createdPaths).toContain('/run/systemd/resolve/stub-resolv.conf');
    expect(await listTree(run.upper)).toEqual(['dev', 'etc', 'proc', 'sys']);
  });

  it('isolates the network with network none: only the loopback interface', async () => {
    const run = await runShell('ls /sys/class/net', { network: 'none' });
    expect(run.stdout.split(/\s+/).filter(Boolean)).toEqual(['lo']);
  });

  it('isolates the network by default: outbound through slirp4netns, the host loopback out of reach', async () => {
    const hostAddress = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    expect(hostAddress, 'this test needs a non-loopback IPv4 address').toBeDefined();
    const greet = () => createServer((socket) => socket.end('hello\n'));
    const listen = (server: Server, host: string) =>
      new Promise<number>((resolve) =>
        server.listen(0, host, () => resolve((server.address() as { port: number }).port)),
      );
    const onLoopback = greet();
    const outside = greet();
    const loopbackPort = await listen(onLoopback, '127.0.0.1');
    const outsidePort = await listen(outside, hostAddress!);
    sharedExecutor = createRuncExecutor({ stateDir });
    try {
      const script = [
        'ls /sys/class/net | tr "\\n" " "; echo',
        'grep nameserver /etc/resolv.conf',
        `echo out=$(nc -w 5 ${hostAddress} ${outsidePort} </dev/null)`,
        `nc -w 5 127.0.0.1 ${loopbackPort} </dev/null; echo loopback=$?`,
        `nc -w 5 10.0.2.2 ${loopbackPort} </dev/null; echo gateway=$?`,
        'readlink /proc/self/ns/net',
      ].join('\n');
      const first = await runShell(script, { network: 'isolated' });
      const lines = first.stdout.split('\n');
      expect(lines.slice(0, 6), first.stderr).toEqual([
        'lo tap0 ',
        'nameserver 10.0.2.3',
        'out=hello',
        'loopback=1',
        'gateway=1',
        expect.stringMatching(/^net:\[\d+\]$/),
      ]);
      // The next run of the build reuses the namespace (no new slirp4netns).
      const second = await runShell('readlink /proc/self/ns/net', { network: 'isolated' });
      expect(second.stdout.trim()).toBe(lines[5]);
      expect(listChildren()).toEqual(expect.arrayContaining(['slirp4netns', 'cat']));
      await sharedExecutor.close?.(); // kills them; Node reaps them when it hears
      for (let i = 0; i < 100 && listChildren().length > 0; i++)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(listChildren()).toEqual([]);
    } finally {
      await sharedExecutor.close?.();
      sharedExecutor = undefined;
      onLoopback.close();
      outside.close();
    }
  });

  it('runs as the user that USER names, with its supplementary groups', async () => {
    const user = await resolveUser(path.join(snapshots, '1'), 'app');
    // As BuildKit 28 sets them: the user's own gid is among its supplementary groups.
    expect(user).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 50, 100] });
    const run = await runShell('id; pwd; touch /tmp/x && stat -c %u:%g /tmp/x', {
      process: { cwd: '/home/app', ...user },
    });
    expect(run.stdout).toBe(
      'uid=1000(app) gid=1000(app) groups=50(staff),100(users),1000(app)\n/home/app\n1000:1000\n',
    );
    await expect(resolveUser(path.join(snapshots, '1'), 'ap')).rejects.toMatchObject({
      code: 'TBUILD_UNKNOWN_USER',
      message: 'no user named "ap" in /etc/passwd of the image',
      hint: expect.stringContaining('Did you mean "app"?'),
    });
  });

  it('mounts binds and tmpfs, feeds stdin, and removes the mount points it created', async () => {
    const data = path.join(root, 'data');
    await mkdir(data, { recursive: true });
    await writeFile(path.join(data, 'greeting'), 'hello from the host\n');
    const run = await runShell(
      'cat /mnt/data/greeting; cat; mount | grep -c " /cache type tmpfs"; touch /mnt/data/x',
      {
        process: { cwd: '/work/dir', stdin: 'piped\n' },
        mounts: [
          { dest: '/mnt/data', type: 'bind', source: data, readonly: true },
          { dest: '/cache', type: 'tmpfs', readonly: false, size: 1 << 20 },
        ],
      },
    );
    expect(run.stdout).toBe('hello from the host\npiped\n1\n');
    expect(run.stderr).toContain('Read-only file system');
    expect(run.exitCode).toBe(1);
    // The working directory stays (BuildKit does the same); mount points do not.
    expect(await listTree(run.upper)).toEqual(['dev', 'etc', 'proc', 'sys', 'work', 'work/dir']);
  });

  it("reports a command that cannot start as a typed error with runc's message", async () => {
    const run = runShell('', {
      process: { args: ['/no/such/tool'] },
    });
    await expect(run).rejects.toMatchObject({
      code: 'TBUILD_CONTAINER_START',
      message: expect.stringContaining('no such file or directory'),
    });
  });

  it('kills the container on abort and leaves no runc state or mounts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 300);
    await expect(runShell('sleep 100', {}, controller.signal)).rejects.toMatchObject({
      code: 'TBUILD_CANCELLED',
    });
    expect(Date.now() - started).toBeLessThan(2500);
    expect(await readdir(path.join(stateDir, 'runc'))).toEqual([]);
    expect(await readdir(path.join(stateDir, 'bundles'))).toEqual([]);
    expect(await listMounts(root)).toEqual([]);
    expect(
      execFileSync('runc', ['--root', path.join(stateDir, 'runc'), 'list', '-q'], {
        encoding: 'utf8',
      }),
    ).toBe('');
  });

  it('cleans up containers left behind by a dead tbuild process', async () => {
    const bundle = path.join(stateDir, 'bundles', 'tbuild-999999999-abcdef');
    await mkdir(bundle, { recursive: true });
    expect(await cleanupStaleContainers(stateDir)).toEqual(['tbuild-999999999-abcdef']);
    expect(await readdir(path.join(stateDir, 'bundles'))).toEqual([]);
  });
});

describe('overlay mounts', () => {
  it('mounts a single layer read-only with a bind mount', async () => {
    const mount = await mountOverlay({
      snapshotsDir: snapshots,
      lower: ['1'],
      target: path.join(root, 'ro'),
    });
    try {
      expect(await readFile(path.join(mount.target, 'etc/passwd'), 'utf8')).toContain('app:x:1000');
      await expect(writeFile(path.join(mount.target, 'x'), '')).rejects.toMatchObject({
        code: 'EROFS',
      });
    } finally {
      await mount.unmount();
    }
    expect(await listMounts(path.join(root, 'ro'))).toEqual([]);
  });

  it('stacks several lowers, nearest first, and unmountAll clears stale mounts', async () => {
    await mkdir(path.join(snapshots, 'top/etc'), { recursive: true });
    await writeFile(path.join(snapshots, 'top/etc/motd'), 'top layer\n');
    const target = path.join(root, 'stack');
    await mountOverlay({ snapshotsDir: snapshots, lower: ['top', '1'], target });
    expect(await readFile(path.join(target, 'etc/motd'), 'utf8')).toBe('top layer\n');
    expect(await readFile(path.join(target, 'etc/group'), 'utf8')).toContain('users');
    expect(await unmountAll(target)).toEqual([target]);
    expect(await listMounts(target)).toEqual([]);
  });
});
