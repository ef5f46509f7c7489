/** Lowering: the image config that instructions build up. */
import { describe, expect, it } from 'vitest';
import { lastExec, lower } from './testing/lower.ts';

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
