import { describe, expect, it } from 'vitest';
import { findOrderViolations } from '../llb/index.ts';
import { descriptions, lastExec, lastFile, lower, opsOf } from './testing/lower.ts';

const env = async (dockerfile: string, buildArgs: Record<string, string> = {}): Promise<string[]> =>
  lastExec((await lower(dockerfile, { buildArgs })).definition).env;

const errorOf = async (
  promise: Promise<unknown>,
): Promise<{ code: string; message: string; hint?: string }> => {
  try {
    await promise;
  } catch (e) {
    return e as { code: string; message: string; hint?: string };
  }
  throw new Error('expected an error');
};

describe('variable expansion', () => {
  it.each([
    [
      'ENV A=x\nWORKDIR /$A',
      (r: Awaited<ReturnType<typeof lower>>) => r.image.config.WorkingDir,
      '/x',
    ],
    [
      'ENV A=x\nUSER $A:${A}g',
      (r: Awaited<ReturnType<typeof lower>>) => r.image.config.User,
      'x:xg',
    ],
    [
      'ENV A=x\nLABEL "l-$A"="v ${A}"',
      (r: Awaited<ReturnType<typeof lower>>) => r.image.config.Labels,
      { 'l-x': 'v x' },
    ],
    [
      'ENV P="80 443"\nEXPOSE $P',
      (r: Awaited<ReturnType<typeof lower>>) => r.image.config.ExposedPorts,
      { '80/tcp': {}, '443/tcp': {} },
    ],
    [
      'ENV V=/data\nVOLUME $V ["/x"]',
      (r: Awaited<ReturnType<typeof lower>>) => Object.keys(r.image.config.Volumes ?? {})[0],
      '/data',
    ],
    [
      'ENV S=SIGQUIT\nSTOPSIGNAL $S',
      (r: Awaited<ReturnType<typeof lower>>) => r.image.config.StopSignal,
      'SIGQUIT',
    ],
    [
      'ENV A=1\nENV A=2 B=$A',
      (r: Awaited<ReturnType<typeof lower>>) => r.image.config.Env,
      ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=2', 'B=1'],
    ],
    [
      'ENV A=x\nCMD echo $A',
      (r: Awaited<ReturnType<typeof lower>>) => r.image.config.Cmd,
      ['/bin/sh', '-c', 'echo $A'],
    ],
    [
      'ENV A=x\nENTRYPOINT ["$A"]',
      (r: Awaited<ReturnType<typeof lower>>) => r.image.config.Entrypoint,
      ['$A'],
    ],
  ])('%j', async (body, pick, expected) => {
    expect(pick(await lower(`FROM alpine:3.20\n${body}\n`))).toEqual(expected);
  });

  it('leaves RUN to the shell but expands COPY paths', async () => {
    const r = await lower('FROM alpine:3.20\nENV D=/dst\nCOPY src $D/\nRUN echo $D\n');
    expect(lastExec(r.definition).args).toEqual(['/bin/sh', '-c', 'echo $D']);
    const copy = opsOf(r.definition, 'file').at(-1)!.actions[0]!;
    expect(copy).toMatchObject({ action: 'copy', src: '/src', dest: '/dst/' });
  });
});

describe('ARG scoping', () => {
  it('lets global ARGs reach FROM but not the stage unless declared again', async () => {
    const base = 'ARG TAG=3.20\nFROM alpine:$TAG\n';
    const r = await lower(`${base}RUN echo`);
    expect(r.stages[0]!.base).toBe('alpine:3.20');
    expect(lastExec(r.definition).env.some((e) => e.startsWith('TAG='))).toBe(false);
    expect(await env(`${base}ARG TAG\nRUN echo`)).toContain('TAG=3.20');
  });

  it('takes --build-arg over the default, and only for declared ARGs', async () => {
    const dockerfile = 'FROM alpine:3.20\nARG A=default\nRUN echo';
    expect(await env(dockerfile, { A: 'cli' })).toContain('A=cli');
    expect(await env(dockerfile)).toContain('A=default');
    expect(await env('FROM alpine:3.20\nRUN echo', { A: 'cli' })).not.toContain('A=cli');
  });

  it('lets ENV win over an ARG of the same name', async () => {
    const e = await env('FROM alpine:3.20\nARG A=arg\nENV A=env\nRUN echo', { A: 'cli' });
    expect(e.filter((x) => x.startsWith('A='))).toEqual(['A=env']);
  });

  it('keeps ARG values out of the image config', async () => {
    const r = await lower('FROM alpine:3.20\nARG SECRET=x\nRUN echo\n');
    expect(r.image.config.Env?.some((e) => e.startsWith('SECRET'))).toBe(false);
    expect(r.image.history?.at(-1)?.created_by).toBe('RUN |1 SECRET=x /bin/sh -c echo # buildkit');
  });

  it('gives an ARG without a value nothing, unless a build arg sets it', async () => {
    expect((await env('FROM alpine:3.20\nARG A\nRUN echo')).some((e) => e.startsWith('A='))).toBe(
      false,
    );
    expect(await env('FROM alpine:3.20\nARG A\nRUN echo', { A: '1' })).toContain('A=1');
  });

  it('expands an ARG default with the variables before it', async () => {
    expect(await env('FROM alpine:3.20\nENV V=1\nARG B=v$V\nRUN echo')).toContain('B=v1');
  });

  it('provides the platform ARGs in FROM and, once declared, in the stage', async () => {
    const r = await lower(
      'FROM --platform=$BUILDPLATFORM alpine:3.20\nARG TARGETARCH TARGETPLATFORM BUILDOS\nRUN echo\n',
      {
        platform: { os: 'linux', architecture: 'arm64' },
      },
    );
    expect(r.stages[0]!.platform).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(lastExec(r.definition).env).toEqual(
      expect.arrayContaining(['TARGETARCH=arm64', 'TARGETPLATFORM=linux/arm64', 'BUILDOS=linux']),
    );
  });

  it('gives RUN the proxy build args without a declaration and keeps them out of history', async () => {
    const r = await lower('FROM alpine:3.20\nRUN echo\n', {
      buildArgs: { HTTP_PROXY: 'http://p:3128' },
    });
    expect(lastExec(r.definition).env).toContain('HTTP_PROXY=http://p:3128');
    expect(r.image.history?.at(-1)?.created_by).toBe('RUN /bin/sh -c echo # buildkit');
    expect(r.warnings).toEqual([]);
  });

  it('warns about build args nothing consumed', async () => {
    const r = await lower('FROM alpine:3.20\n', { buildArgs: { NOPE: '1' } });
    expect(r.warnings.map((w) => w.message)).toEqual([
      'One or more build-args [NOPE] were not consumed',
    ]);
  });
});

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

describe('image config', () => {
  it('adds the default PATH when the base image has none', async () => {
    const r = await lower('FROM busybox\n');
    expect(r.image.config.Env).toEqual([
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ]);
    expect((await lower('FROM node:24\n')).image.config.Env?.[0]).toBe(
      'PATH=/usr/local/bin:/usr/bin:/bin',
    );
  });

  it('resets an inherited CMD on ENTRYPOINT but keeps one set in the stage', async () => {
    expect((await lower('FROM node:24\nENTRYPOINT ["x"]\n')).image.config.Cmd).toBeNull();
    expect((await lower('FROM node:24\nCMD ["y"]\nENTRYPOINT ["x"]\n')).image.config.Cmd).toEqual([
      'y',
    ]);
  });

  it('records ports with ranges and protocols', async () => {
    const r = await lower('FROM scratch\nEXPOSE 80 53/udp 8000-8002/tcp\n');
    expect(Object.keys(r.image.config.ExposedPorts!)).toEqual([
      '80/tcp',
      '53/udp',
      '8000/tcp',
      '8001/tcp',
      '8002/tcp',
    ]);
    expect(r.image.history?.at(-1)?.created_by).toBe(
      'EXPOSE [53/udp 80/tcp 8000/tcp 8001/tcp 8002/tcp]',
    );
  });

  it('stores a healthcheck, and NONE', async () => {
    const r = await lower(
      'FROM scratch\nHEALTHCHECK --interval=5m --timeout=3s --retries=3 CMD curl -f http://localhost/ || exit 1\n',
    );
    expect(r.image.config.Healthcheck).toEqual({
      Test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'],
      Interval: 300e9,
      Timeout: 3e9,
      Retries: 3,
    });
    expect(r.image.history?.at(-1)?.created_by).toBe(
      `HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/ || exit 1"] "5m0s" "3s" "0s" "0s" '\\x03'}`,
    );
    expect((await lower('FROM scratch\nHEALTHCHECK NONE\n')).image.config.Healthcheck).toEqual({
      Test: ['NONE'],
    });
  });

  it('uses SHELL for later shell-form commands', async () => {
    const r = await lower(
      'FROM alpine:3.20\nSHELL ["/bin/bash", "-euo", "pipefail", "-c"]\nRUN make\nCMD run\n',
    );
    expect(lastExec(r.definition).args).toEqual(['/bin/bash', '-euo', 'pipefail', '-c', 'make']);
    expect(r.image.config.Cmd).toEqual(['/bin/bash', '-euo', 'pipefail', '-c', 'run']);
    expect(r.image.config.Shell).toEqual(['/bin/bash', '-euo', 'pipefail', '-c']);
  });

  it('writes history entries worded like BuildKit', async () => {
    const r = await lower(
      'FROM alpine:3.20\nENV A=b\nWORKDIR /app\nCOPY file /x\nRUN make\nUSER app\nVOLUME /data\nCMD ["a", "b"]\nMAINTAINER me\nONBUILD RUN x\n',
    );
    const history = r.image.history!.map((h) => [h.created_by, h.empty_layer ?? false]);
    expect(history).toEqual([
      ['/bin/sh -c #(nop) ADD file:abc in / ', false],
      ['ENV A=b', true],
      ['WORKDIR /app', false],
      ['COPY file /x # buildkit', false],
      ['RUN /bin/sh -c make # buildkit', false],
      ['USER app', true],
      ['VOLUME [/data]', true],
      ['CMD ["a" "b"]', true],
      ['MAINTAINER me', true],
    ]);
    expect(r.image.author).toBe('me');
    expect(r.image.config.OnBuild).toEqual(['RUN x']);
    expect(r.image.rootfs.diff_ids).toHaveLength(1);
  });

  it('words history as BuildKit 28: ARG values taken, COPY flags and heredocs', async () => {
    const r = await lower(
      'ARG G=global\nFROM scratch AS s\nFROM scratch\nARG G\nARG A=default\nARG B\nARG C\n' +
        'COPY --link --chmod=0755 --from=s --chown=1:2 a /a\nCOPY <<-EOT <<"Q" /d/\nx\nEOT\ny\nQ\n',
      { buildArgs: { A: 'cli', B: 'cli-b' } },
    );
    expect(r.image.history!.map((h) => h.created_by)).toEqual([
      'ARG G=global',
      'ARG A=cli',
      'ARG B=cli-b',
      'ARG C',
      'COPY --chown=1:2 --chmod=0755 a /a # buildkit',
      'COPY <<EOT <<Q /d/ # buildkit',
    ]);
  });

  it('applies --label over LABEL and stamps SOURCE_DATE_EPOCH', async () => {
    const r = await lower('FROM scratch\nLABEL a=1 b=2\n', {
      labels: { b: 'cli' },
      sourceDateEpoch: 1700000000,
    });
    expect(r.image.config.Labels).toEqual({ a: '1', b: 'cli' });
    expect(r.image.created).toBe('2023-11-14T22:13:20Z');
    expect(r.image.history?.[0]?.created).toBe('2023-11-14T22:13:20Z');
  });

  it('takes the platform from FROM --platform', async () => {
    const r = await lower('FROM --platform=linux/arm/v7 alpine:3.20\n');
    expect([r.image.os, r.image.architecture, r.image.variant]).toEqual(['linux', 'arm', 'v7']);
  });

  it('warns when a base image was made for another platform (InvalidBaseImagePlatform)', async () => {
    const other = await lower('FROM --platform=linux/arm64 alpine:3.20\n');
    expect(other.warnings).toContainEqual(
      expect.objectContaining({
        rule: 'InvalidBaseImagePlatform',
        message:
          'Base image alpine:3.20 was pulled with platform "linux/amd64", expected "linux/arm64" for current build',
      }),
    );
    const same = await lower('FROM alpine:3.20\n');
    expect(same.warnings.filter((w) => w.rule === 'InvalidBaseImagePlatform')).toEqual([]);
  });
});

describe('lowering', () => {
  it('runs with the image env, workdir, user, network and mounts', async () => {
    const r = await lower(
      [
        'FROM alpine:3.20 AS deps',
        'FROM alpine:3.20',
        'WORKDIR /src',
        'USER 1000',
        'ARG CACHE=/root/.cache',
        'RUN --network=none --mount=type=cache,target=$CACHE,sharing=locked --mount=type=bind,from=deps,source=/etc,target=etc --mount=type=secret,id=tok --mount=type=tmpfs,target=/tmp make',
        '',
      ].join('\n'),
    );
    const run = lastExec(r.definition);
    expect(run).toMatchObject({ cwd: '/src', user: '1000', network: 'none', security: 'sandbox' });
    expect(run.mounts.map((m) => [m.type, m.dest, m.input, m.readonly, m.selector])).toEqual([
      ['bind', '/', 0, false, undefined],
      ['cache', '/root/.cache', null, false, undefined],
      ['bind', '/src/etc', 1, true, '/etc'],
      ['secret', '/run/secrets/tok', null, false, undefined],
      ['tmpfs', '/tmp', null, false, undefined],
    ]);
    expect(run.mounts[1]!.cache).toEqual({ id: '/root/.cache', sharing: 'locked', mode: 0o755 });
    expect(run.mounts[3]!.secret).toEqual({
      id: 'tok',
      uid: 0,
      gid: 0,
      mode: 0o400,
      optional: true,
    });
  });

  it('runs a heredoc body with the shell, and a shebang heredoc as a mounted file', async () => {
    const plain = await lower('FROM alpine:3.20\nRUN <<EOF\necho a\necho b\nEOF\n');
    expect(lastExec(plain.definition).args).toEqual(['/bin/sh', '-c', 'echo a\necho b\n']);
    const script = await lower(
      'FROM alpine:3.20\nRUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF\n',
    );
    const run = lastExec(script.definition);
    expect(run.args).toEqual(['/bin/sh', '-c', '/dev/pipes/EOF']);
    expect(run.mounts[1]).toMatchObject({ dest: '/dev/pipes/', readonly: true });
    const stdin = await lower('FROM alpine:3.20\nRUN cat <<EOF > /x\nhello\nEOF\n');
    expect(lastExec(stdin.definition).args).toEqual([
      '/bin/sh',
      '-c',
      'cat <<EOF > /x\nhello\nEOF',
    ]);
  });

  it('shares one context source between COPY instructions and applies .dockerignore', async () => {
    const r = await lower('FROM alpine:3.20\nCOPY a /a\nCOPY b /b\n', {
      dockerignore: ['node_modules', '!keep'],
    });
    const locals = opsOf(r.definition, 'source').filter((op) => op.source.type === 'local');
    expect(locals).toEqual([
      {
        type: 'source',
        source: { type: 'local', name: 'context', exclude: ['node_modules', '!keep'] },
      },
    ]);
  });

  it('puts COPY options on the copy action', async () => {
    const r = await lower(
      'FROM alpine:3.20\nWORKDIR /app\nCOPY --chown=app:1000 --chmod=640 --exclude=*.md a b ./\n',
    );
    const actions = lastFile(r.definition).actions;
    expect(actions).toHaveLength(2);
    expect(actions[0]).toMatchObject({
      src: '/a',
      dest: '/app/',
      chown: { user: { name: 'app' }, group: { id: 1000 } },
      mode: 0o640,
      exclude: ['*.md'],
      attemptUnpack: false,
    });
  });

  it('refuses several sources onto a destination without a trailing slash', async () => {
    const err = await errorOf(lower('FROM alpine:3.20\nCOPY a b /dst\n'));
    expect(err.message).toContain('must be a directory and end with a /');
  });

  it('copies onto scratch and merges for COPY --link', async () => {
    const r = await lower('FROM alpine:3.20\nCOPY --link a /a\n');
    expect(lastFile(r.definition).base).toBeNull();
    expect(opsOf(r.definition, 'merge')).toHaveLength(1);
    const root = r.definition.vertices[r.definition.root!.digest]!;
    expect(root.op.type).toBe('merge');
  });

  it('writes heredoc sources of COPY with mkfile', async () => {
    const r = await lower('FROM alpine:3.20\nENV N=world\nCOPY <<EOF /hello.txt\nhello $N\nEOF\n');
    const mkfile = opsOf(r.definition, 'file')
      .flatMap((op) => op.actions)
      .find((a) => a.action === 'mkfile');
    expect(mkfile).toEqual({ action: 'mkfile', path: '/EOF', mode: 0o644, data: 'hello world\n' });
    expect(lastFile(r.definition).actions[0]).toMatchObject({ src: '/EOF', dest: '/hello.txt' });
  });

  it('lowers ADD of a URL, a git repository and a local archive', async () => {
    const r = await lower(
      [
        'FROM alpine:3.20',
        'ADD --checksum=sha256:' + 'b'.repeat(64) + ' https://example.com/dl/tool.tgz /opt/',
        'ADD --keep-git-dir https://github.com/moby/buildkit.git#v0.20.0 /src',
        'ADD app.tar.gz /app',
        '',
      ].join('\n'),
    );
    const sources = opsOf(r.definition, 'source').map((op) => op.source);
    expect(sources).toContainEqual({
      type: 'http',
      url: 'https://example.com/dl/tool.tgz',
      checksum: 'sha256:' + 'b'.repeat(64),
      filename: 'tool.tgz',
    });
    expect(sources).toContainEqual({
      type: 'git',
      remote: 'https://github.com/moby/buildkit.git',
      ref: 'v0.20.0',
      keepGitDir: true,
    });
    const actions = opsOf(r.definition, 'file').flatMap((op) => op.actions);
    expect(actions[0]).toMatchObject({
      src: '/tool.tgz',
      dest: '/opt/tool.tgz',
      attemptUnpack: false,
    });
    expect(actions.at(-1)).toMatchObject({ src: '/app.tar.gz', dest: '/app', attemptUnpack: true });
  });

  it('makes WORKDIR a mkdir with parents, owned by USER', async () => {
    const r = await lower('FROM alpine:3.20\nUSER app\nWORKDIR a/b\n');
    expect(lastFile(r.definition).actions).toEqual([
      {
        action: 'mkdir',
        path: '/a/b',
        mode: 0o755,
        makeParents: true,
        chown: { user: { name: 'app' } },
      },
    ]);
  });

  it('adds no op for metadata-only instructions', async () => {
    const r = await lower('FROM alpine:3.20\nENV A=1\nLABEL a=b\nUSER x\nEXPOSE 80\nCMD x\n');
    expect(Object.keys(r.definition.vertices)).toHaveLength(1);
  });

  it('marks vertices to skip the cache for --no-cache and --no-cache-filter', async () => {
    const dockerfile = 'FROM alpine:3.20 AS a\nRUN one\nFROM a AS b\nRUN two\n';
    const all = await lower(dockerfile, { noCache: true });
    expect(Object.values(all.definition.metadata).every((m) => m.ignoreCache)).toBe(true);
    const some = await lower(dockerfile, { noCacheFilter: ['b'] });
    expect(Object.values(some.definition.metadata).map((m) => m.ignoreCache ?? false)).toEqual([
      false,
      false,
      true,
    ]);
  });

  it('produces the same definition for the same input', async () => {
    const dockerfile = 'FROM alpine:3.20\nCOPY . /src\nRUN make\n';
    const a = await lower(dockerfile);
    const b = await lower(dockerfile);
    expect(a.definition).toEqual(b.definition);
  });
});

describe('a Dockerfile with every instruction', () => {
  it('lowers without error to an ordered graph and a complete config', async () => {
    const { readFile } = await import('node:fs/promises');
    const url = new URL('../../fixtures/frontend/every-instruction/Dockerfile', import.meta.url);
    const r = await lower(await readFile(url, 'utf8'), { buildArgs: { VERSION: '2.0' } });
    expect(findOrderViolations(r.definition)).toEqual([]);
    expect(r.stages.map((s) => s.used)).toEqual([true, false, true]);
    expect(r.image.config).toMatchObject({
      User: '1000:1000',
      Entrypoint: ['/app/bin/server'],
      Cmd: ['--port', '8080'],
      StopSignal: 'SIGTERM',
      OnBuild: ['COPY . /app/src'],
      Shell: ['/bin/sh', '-eu', '-c'],
      Volumes: { '/data': {}, '/cache': {} },
    });
    // VERSION is not declared in the last stage, so LABEL sees nothing.
    expect(r.image.config.Labels).toEqual({
      'org.opencontainers.image.title': 'example',
      version: '',
    });
    // VERSION is not declared in the last stage: BuildKit warns about LABEL's use of it.
    expect(r.warnings.map((w) => w.message)).toEqual([
      'Maintainer instruction is deprecated in favor of using label',
      "Usage of undefined variable '$VERSION'",
    ]);
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

describe('an empty --chmod', () => {
  it('is no --chmod, as in BuildKit', async () => {
    const r = await lower('FROM alpine:3.20\nARG MODE\nCOPY --chmod=$MODE a /a\n');
    const copy = lastFile(r.definition).actions[0]!;
    expect(copy.action === 'copy' && copy.mode).toBeUndefined();
  });
});

describe('entitlements', () => {
  it('fail RUN --network=host and --security=insecure at their line unless allowed', async () => {
    const dockerfile = 'FROM scratch\nRUN --network=host true\nRUN --security=insecure true\n';
    const noHost = await errorOf(lower(dockerfile, { entitlements: [] }));
    expect(noHost).toMatchObject({
      code: 'TBUILD_ENTITLEMENT',
      message:
        'RUN --network=host needs the network.host entitlement, which this build does not grant',
      hint: expect.stringContaining('--allow network.host'),
      location: { range: { start: 2, end: 2 } },
    });
    const noInsecure = await errorOf(lower(dockerfile, { entitlements: ['network.host'] }));
    expect(noInsecure).toMatchObject({
      code: 'TBUILD_ENTITLEMENT',
      location: { range: { start: 3, end: 3 } },
    });
    const allowed = await lower(dockerfile, {
      entitlements: ['network.host', 'security.insecure'],
    });
    expect(lastExec(allowed.definition)).toMatchObject({
      network: 'default',
      security: 'insecure',
    });
    // Without entitlements given (a check, which runs nothing), nothing is refused.
    await expect(lower(dockerfile)).resolves.toBeDefined();
  });

  it("puts the build's --network into each RUN without its own (and so into its key)", async () => {
    const forced = await lower('FROM scratch\nRUN true\n', { forceNetwork: 'none' });
    expect(lastExec(forced.definition).network).toBe('none');
    const own = await lower('FROM scratch\nRUN --network=default true\n', { forceNetwork: 'none' });
    expect(lastExec(own.definition).network).toBe('default');
  });
});
