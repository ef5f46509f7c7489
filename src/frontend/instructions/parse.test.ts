import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../../parser/index.ts';
import { parseCommand } from './parse.ts';
import { parseGoDuration } from './duration.ts';
import { parseMount } from './mounts.ts';
import type { Command } from './types.ts';

function commands(text: string): Command[] {
  return parseDockerfile(text).instructions.map((n) => parseCommand(n, 'Dockerfile'));
}
function one<K extends Command['kind']>(text: string, kind: K): Extract<Command, { kind: K }> {
  const cmd = commands(`FROM scratch\n${text}\n`)[1]!;
  expect(cmd.kind).toBe(kind);
  return cmd as Extract<Command, { kind: K }>;
}
function error(text: string): { code: string; message: string; hint?: string; line?: number } {
  try {
    commands(text);
  } catch (e) {
    const err = e as {
      code: string;
      message: string;
      hint?: string;
      location?: { range?: { start: number } };
    };
    return {
      code: err.code,
      message: err.message,
      hint: err.hint,
      line: err.location?.range?.start,
    };
  }
  throw new Error('expected an error');
}

describe('parseCommand', () => {
  it('suggests the closest instruction for an unknown one and names the line', () => {
    const err = error('FROM scratch\nCOPPY a b\n');
    expect(err).toMatchObject({ code: 'TBUILD_UNKNOWN_INSTRUCTION', line: 2 });
    expect(err.hint).toContain('"COPY"');
  });

  it.each([
    ['COPY --form=build a b', '--from'],
    ['RUN --mout=type=cache,target=/x true', '--mount'],
    ['ADD --chekcsum=sha256:abc a b', '--checksum'],
    ['HEALTHCHECK --intervl=5s CMD true', '--interval'],
    ['FROM --platfrom=linux/amd64 alpine', '--platform'],
  ])('suggests the closest flag for %s', (line, suggestion) => {
    const err = error(`FROM scratch\n${line}\n`);
    expect(err.code).toBe('TBUILD_UNKNOWN_FLAG');
    expect(err.hint).toContain(suggestion);
  });

  it('rejects flags on instructions that take none', () => {
    expect(error('FROM scratch\nENV --x=1 A=b\n').code).toBe('TBUILD_UNKNOWN_FLAG');
  });

  it('reads FROM with a stage name and platform', () => {
    const [from] = commands('FROM --platform=$BUILDPLATFORM golang:1.23 AS Build\n');
    expect(from).toMatchObject({
      kind: 'from',
      image: 'golang:1.23',
      stageName: 'Build',
      platform: '$BUILDPLATFORM',
    });
  });

  it('reads every COPY flag', () => {
    const cmd = one(
      'COPY --from=build --chown=1:2 --chmod=755 --link --parents --exclude=*.md --exclude=x a b /dst/',
      'copy',
    );
    expect(cmd).toMatchObject({
      from: 'build',
      chown: '1:2',
      chmod: '755',
      link: true,
      parents: true,
      exclude: ['*.md', 'x'],
      sources: ['a', 'b'],
      dest: '/dst/',
    });
  });

  it('reads every ADD flag', () => {
    const cmd = one(
      'ADD --checksum=sha256:00 --keep-git-dir=true --link=false --unpack https://x/y.tgz /y',
      'add',
    );
    expect(cmd).toMatchObject({
      checksum: 'sha256:00',
      keepGitDir: true,
      link: false,
      unpack: true,
    });
  });

  it('rejects a string flag given twice and one without a value', () => {
    expect(error('FROM scratch\nCOPY --from=a --from=b x y\n').message).toContain('more than once');
    expect(error('FROM scratch\nCOPY --from x y\n').message).toContain('missing a value');
  });

  it.each([
    ['RUN --network=none true', { network: 'none' }],
    ['RUN --security=insecure true', { security: 'insecure' }],
    ['RUN ["echo", "a b"]', { cmd: ['echo', 'a b'], shellForm: false }],
    ['RUN echo "a b"', { cmd: ['echo "a b"'], shellForm: true }],
  ])('reads %s', (line, expected) => {
    expect(one(line, 'run')).toMatchObject(expected);
  });

  it('rejects an unknown network mode with a suggestion', () => {
    const err = error('FROM scratch\nRUN --network=hots true\n');
    expect(err.code).toBe('TBUILD_INVALID_INSTRUCTION');
    expect(err.hint).toContain('host');
  });

  it('reads HEALTHCHECK flags as nanoseconds and the command in both forms', () => {
    const shell = one(
      'HEALTHCHECK --interval=30s --timeout=1m30s --start-period=5s --start-interval=500ms --retries=3 CMD curl -f http://x/',
      'healthcheck',
    );
    expect(shell).toMatchObject({
      test: ['CMD-SHELL', 'curl -f http://x/'],
      interval: 30e9,
      timeout: 90e9,
      startPeriod: 5e9,
      startInterval: 5e8,
      retries: 3,
    });
    expect(one('HEALTHCHECK CMD ["curl", "-f"]', 'healthcheck').test).toEqual([
      'CMD',
      'curl',
      '-f',
    ]);
    expect(one('HEALTHCHECK NONE', 'healthcheck').test).toEqual(['NONE']);
  });

  it.each([
    ['HEALTHCHECK --interval=10 CMD true', 'not a duration'],
    ['HEALTHCHECK --interval=-1s CMD true', 'negative'],
    ['HEALTHCHECK --timeout=10us CMD true', 'less than 1ms'],
    ['HEALTHCHECK --retries=-1 CMD true', 'negative'],
    ['HEALTHCHECK CMD', 'missing command'],
    ['HEALTHCHECK NONE x', 'no arguments'],
    ['HEALTHCHECK RUN true', 'unknown type'],
  ])('rejects %s', (line, message) => {
    expect(error(`FROM scratch\n${line}\n`).message).toContain(message);
  });

  it.each([
    ['ONBUILD ONBUILD RUN x', 'chaining'],
    ['ONBUILD FROM alpine', 'not allowed'],
    ['ONBUILD MAINTAINER me', 'not allowed'],
  ])('rejects %s', (line, message) => {
    expect(error(`FROM scratch\n${line}\n`).message).toContain(message);
  });

  it('keeps an ONBUILD trigger as written', () => {
    expect(one('ONBUILD RUN make  all', 'onbuild').expression).toBe('RUN make  all');
  });

  it('reads ENV, LABEL and ARG pairs without expanding them', () => {
    expect(one('ENV A=$B C="d e"', 'env').pairs).toEqual([
      { key: 'A', value: '$B' },
      { key: 'C', value: '"d e"' },
    ]);
    expect(one('ENV OLD form value', 'env').pairs).toEqual([{ key: 'OLD', value: 'form value' }]);
    expect(one('ARG A B=2', 'arg').args).toEqual([{ key: 'A' }, { key: 'B', value: '2' }]);
  });

  it('requires a JSON array for SHELL and a destination for COPY', () => {
    expect(error('FROM scratch\nCOPY onlyone\n').message).toContain('source and a destination');
  });
});

describe('parseMount', () => {
  const loc = {};
  const id = (w: string): string => w;

  it('defaults a bind mount to read-only and accepts the aliases', () => {
    expect(parseMount('target=/src,src=app,from=build', id, loc)).toMatchObject({
      type: 'bind',
      target: '/src',
      source: 'app',
      from: 'build',
      readonly: true,
    });
    expect(parseMount('type=bind,dst=/x,rw', id, loc).readonly).toBe(false);
    expect(parseMount('type=bind,destination=/x,readwrite=true', id, loc).readonly).toBe(false);
  });

  it('fills cache defaults: id from target, shared, 0755', () => {
    expect(parseMount('type=cache,target=/root/.cache,uid=1000,gid=1000', id, loc)).toMatchObject({
      id: '/root/.cache',
      sharing: 'shared',
      mode: 0o755,
      uid: 1000,
      gid: 1000,
      readonly: false,
    });
    expect(
      parseMount('type=cache,target=/c,id=go,sharing=locked,mode=0700', id, loc),
    ).toMatchObject({
      id: 'go',
      sharing: 'locked',
      mode: 0o700,
    });
  });

  it('fills secret and ssh defaults', () => {
    expect(parseMount('type=secret,id=npmrc', id, loc)).toMatchObject({
      target: '/run/secrets/npmrc',
      mode: 0o400,
      uid: 0,
      required: false,
    });
    expect(parseMount('type=secret,id=tok,env=TOKEN,required', id, loc)).toMatchObject({
      target: '',
      env: 'TOKEN',
      required: true,
    });
    expect(parseMount('type=ssh', id, loc)).toMatchObject({
      id: 'default',
      target: '',
      mode: 0o600,
    });
  });

  it('reads a tmpfs size with units', () => {
    expect(parseMount('type=tmpfs,target=/t,size=64m', id, loc).size).toBe(64 * 1024 * 1024);
  });

  it.each([
    ['type=cache,target=/x,sharing=everyone', 'sharing'],
    ['type=volume,target=/x', 'unknown mount type'],
    ['type=bind,traget=/x', 'unknown key'],
    ['type=bind,target=/x,mode=0700', 'not supported'],
    ['type=cache', 'needs a target'],
    ['type=secret,id=a,from=build', 'cannot have from'],
    ['type=tmpfs,target=/x,source=y', 'cannot have a source'],
  ])('rejects %s', (value, message) => {
    expect(() => parseMount(value, id, loc)).toThrow(message);
  });

  it('expands every value with the given expander', () => {
    const expand = (w: string): string => w.replace('$DIR', '/cache');
    expect(parseMount('type=cache,target=$DIR', expand, loc).target).toBe('/cache');
  });
});

describe('parseGoDuration', () => {
  it.each([
    ['0', 0],
    ['30s', 30e9],
    ['1m30s', 90e9],
    ['1.5h', 5400e9],
    ['500ms', 5e8],
    ['10us', 1e4],
    ['-2s', -2e9],
  ])('parses %s', (text, ns) => {
    expect(parseGoDuration(text)).toBe(ns);
  });
  it.each(['', '10', 's', '1x', '1s2'])('rejects %j', (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });
});
