/** Lowering: variable expansion in instructions and the scoping of ARG. */
import { describe, expect, it } from 'vitest';
import { env, lastExec, lower, opsOf } from './testing/lower.ts';

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
