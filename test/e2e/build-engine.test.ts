/**
 * The build engine end to end: real runc, real overlayfs, a busybox base image imported
 * from Debian's busybox-static, driven through the CLI as a user would.
 */
import { execFileSync } from 'node:child_process';
import {
  lstatSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
  readdirSync,
  existsSync,
} from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  build,
  makeContext,
  useBuildStore,
  startBuildUntil,
  workSteps,
} from '../helpers/build-harness.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';

const dirs = useBuildStore();

function archiveConfig(tarFile: string): {
  config: Record<string, unknown>;
  history: Array<Record<string, unknown>>;
  layers: number;
} {
  const manifest = JSON.parse(
    execFileSync('tar', ['-xOf', tarFile, 'manifest.json']).toString(),
  ) as Array<{ Config: string; Layers: string[] }>;
  const config = JSON.parse(
    execFileSync('tar', ['-xOf', tarFile, manifest[0]!.Config]).toString(),
  ) as {
    config: Record<string, unknown>;
    history: Array<Record<string, unknown>>;
  };
  return { config: config.config, history: config.history, layers: manifest[0]!.Layers.length };
}

function attrs(root: string, p: string): string {
  const st = lstatSync(path.join(root, p));
  const type = st.isDirectory()
    ? 'dir'
    : st.isSymbolicLink()
      ? `link->${readlinkSync(path.join(root, p))}`
      : 'file';
  return `${type} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
}

const EVERY_INSTRUCTION = `# syntax=docker/dockerfile:1
ARG BASE=localhost:5000/busybox:latest
FROM \${BASE} AS tools
RUN echo 'builder:x:1500:2000::/home/builder:/bin/sh' >> /etc/passwd && echo 'team:x:2000:' >> /etc/group && mkdir -p /home/builder
RUN --mount=type=cache,target=/cache echo cached > /cache/marker && mkdir -p /opt/tool && echo v1 > /opt/tool/version

FROM \${BASE} AS final
MAINTAINER tbuild tests
ARG GREETING=hello
LABEL suite="engine" multi.word="two words"
ENV APP_HOME=/srv/app PATH_EXTRA=/opt/bin
SHELL ["/bin/sh", "-c"]
COPY --from=tools /etc/passwd /etc/group /etc/
WORKDIR \${APP_HOME}
COPY --chown=builder:team --chmod=640 config.txt ./conf/
ADD bundle.tar.gz /srv/bundle/
COPY --from=tools /opt/tool /opt/tool
RUN echo "$GREETING from $(pwd)" > greeting.txt && ln -s greeting.txt latest && rm /bin/vi && mkdir -m 1777 /out
USER builder
RUN id -u > /out/whoami
EXPOSE 8080 9000-9001/udp
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s CMD wget -q -O- http://localhost:8080/ || exit 1
STOPSIGNAL SIGTERM
ONBUILD RUN echo child
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat greeting.txt"]
`;

describe('tbuild build with the engine', () => {
  it('builds a multi-stage Dockerfile using every instruction, with the files, owners, modes and config expected', async () => {
    const bundleSrc = await makeContext({ 'inner/readme': 'from the tarball\n' });
    const ctx = await makeContext({ Dockerfile: EVERY_INSTRUCTION, 'config.txt': 'key=value\n' });
    execFileSync('tar', ['-czf', path.join(ctx, 'bundle.tar.gz'), '-C', bundleSrc, 'inner']);
    const tarFile = path.join(dirs.scratch, 'every.tar');
    const files = path.join(dirs.scratch, 'every-files');
    const run = await build(dirs.store, ctx, [
      '-t',
      'every:latest',
      '--build-arg',
      'GREETING=hi',
      '-o',
      `type=docker,dest=${tarFile}`,
      '-o',
      `type=local,dest=${files}`,
    ]);
    expect(run.stderr).not.toMatch(/"type":"vertex.error"/);
    expect(run.code).toBe(0);

    expect(readFileSync(path.join(files, 'srv/app/greeting.txt'), 'utf8')).toBe(
      'hi from /srv/app\n',
    );
    expect(attrs(files, 'srv/app/latest')).toBe('link->greeting.txt 777 0:0');
    expect(attrs(files, 'srv/app/conf/config.txt')).toBe('file 640 1500:2000');
    // BuildKit 28 gives the directories a COPY creates its numeric --chmod (checked with Docker 28.5).
    expect(attrs(files, 'srv/app/conf')).toBe('dir 640 1500:2000');
    expect(readFileSync(path.join(files, 'srv/bundle/inner/readme'), 'utf8')).toBe(
      'from the tarball\n',
    );
    expect(readFileSync(path.join(files, 'opt/tool/version'), 'utf8')).toBe('v1\n');
    expect(readFileSync(path.join(files, 'out/whoami'), 'utf8')).toBe('1500\n');
    expect(existsSync(path.join(files, 'bin/vi'))).toBe(false);
    expect(existsSync(path.join(files, 'cache'))).toBe(false);
    expect(existsSync(path.join(files, 'etc/hosts'))).toBe(false);

    const { config, history, layers } = archiveConfig(tarFile);
    expect(config).toMatchObject({
      User: 'builder',
      WorkingDir: '/srv/app',
      Entrypoint: ['/bin/sh', '-c'],
      Cmd: ['cat greeting.txt'],
      Labels: { suite: 'engine', 'multi.word': 'two words' },
      ExposedPorts: { '8080/tcp': {}, '9000/udp': {}, '9001/udp': {} },
      Volumes: { '/data': {} },
      StopSignal: 'SIGTERM',
      OnBuild: ['RUN echo child'],
      Shell: ['/bin/sh', '-c'],
      Healthcheck: {
        Test: ['CMD-SHELL', 'wget -q -O- http://localhost:8080/ || exit 1'],
        Interval: 30e9,
        Timeout: 5e9,
      },
    });
    expect(config.Env).toEqual(
      expect.arrayContaining(['APP_HOME=/srv/app', 'PATH_EXTRA=/opt/bin']),
    );
    expect((config.Env as string[]).some((e) => e.startsWith('GREETING='))).toBe(false);
    expect(history.filter((h) => !h.empty_layer).length).toBe(layers);
  });

  it('reports every step cached on a rebuild without changes, runs no container, and gives the same image ID', async () => {
    const ctx = await makeContext({
      Dockerfile:
        'FROM localhost:5000/busybox:latest\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b.txt\nWORKDIR /w\n',
      'a.txt': 'A\n',
    });
    const iid = (n: number) => path.join(dirs.scratch, `noop-${n}.iid`);
    const first = await build(dirs.store, ctx, ['-t', 'noop:1', '--iidfile', iid(1)]);
    expect(first.code).toBe(0);
    expect(workSteps(first.ran)).toHaveLength(3);
    await new Promise((r) => setTimeout(r, 20));
    const second = await build(dirs.store, ctx, ['-t', 'noop:1', '--iidfile', iid(2)]);
    expect(second.code).toBe(0);
    expect(workSteps(second.ran)).toEqual([]);
    expect(second.cached.length).toBeGreaterThan(0);
    expect(readFileSync(iid(2), 'utf8')).toBe(readFileSync(iid(1), 'utf8'));
  });

  it('reruns only the steps that depend on a changed context file', async () => {
    const ctx = await makeContext({
      Dockerfile: [
        'FROM localhost:5000/busybox:latest AS one',
        'COPY one.txt /one.txt',
        'RUN cat /one.txt > /one.out',
        'FROM localhost:5000/busybox:latest AS two',
        'COPY two.txt /two.txt',
        'RUN cat /two.txt > /two.out',
        'FROM localhost:5000/busybox:latest',
        'COPY --from=one /one.out /',
        'COPY --from=two /two.out /',
        '',
      ].join('\n'),
      'one.txt': '1\n',
      'two.txt': '2\n',
    });
    expect((await build(dirs.store, ctx)).code).toBe(0);
    writeFileSync(path.join(ctx, 'two.txt'), '2 changed\n');
    const rerun = await build(dirs.store, ctx);
    expect(rerun.code).toBe(0);
    expect(workSteps(rerun.ran)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('COPY two.txt'),
        expect.stringContaining('RUN cat /two.txt'),
        expect.stringContaining('/two.out'),
      ]),
    );
    expect(workSteps(rerun.ran).some((n) => n.includes('one'))).toBe(false);
  });

  it('runs independent stages at the same time', async () => {
    const ctx = await makeContext({
      Dockerfile: [
        'FROM localhost:5000/busybox:latest AS a',
        'RUN sleep 1.5 && echo a > /a',
        'FROM localhost:5000/busybox:latest AS b',
        'RUN sleep 1.5 && echo b > /b',
        'FROM localhost:5000/busybox:latest',
        'COPY --from=a /a /a',
        'COPY --from=b /b /b',
        '',
      ].join('\n'),
    });
    const run = await build(dirs.store, ctx, ['--max-parallelism', '2']);
    expect(run.code).toBe(0);
    const span = (needle: string) => {
      const start = run.events.find(
        (e) => e.type === 'vertex.started' && e.name.includes(needle),
      )!.time;
      const end = run.events.find(
        (e) => e.type === 'vertex.completed' && e.name.includes(needle),
      )!.time;
      return { start, end };
    };
    const a = span('echo a');
    const b = span('echo b');
    expect(a.start).toBeLessThan(b.end);
    expect(b.start).toBeLessThan(a.end);
  });

  it('fails a RUN step with its exit code and Dockerfile line, and tags nothing', async () => {
    const ctx = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox:latest\nRUN echo before\nRUN exit 3\n',
    });
    const dest = path.join(dirs.scratch, 'failed.tar');
    const run = await runTbuild([
      'build',
      '--root',
      dirs.store,
      '--progress=plain',
      '-t',
      'failed:1',
      '-o',
      `type=docker,dest=${dest}`,
      ctx,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('exit code: 3');
    expect(run.stderr).toMatch(/Dockerfile:3|line 3/);
    expect(existsSync(dest)).toBe(false);
    const images = await runTbuild(['images', '--root', dirs.store]);
    expect(images.stdout).not.toContain('failed');
  });

  it('leaves the dirs.store consistent when killed mid-RUN, and the next build succeeds', async () => {
    const ctx = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox:latest\nRUN echo start && sleep 60\n',
    });
    const running = await startBuildUntil(dirs.store, ctx, /sleep 60/);
    await new Promise((r) => setTimeout(r, 500));
    running.kill();
    await running.exited;
    const next = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox:latest\nRUN echo after > /after\n',
    });
    const run = await build(dirs.store, next, ['-t', 'after-kill:1']);
    expect(run.code).toBe(0);
    const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
    expect(mountinfo.split('\n').filter((l) => l.includes(dirs.store))).toEqual([]);
    const leftovers = readdirSync(path.join(dirs.store, 'mounts'));
    expect(leftovers.length).toBeLessThanOrEqual(0);
  });
});
