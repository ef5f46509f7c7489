/** Lowering: the LLB ops instructions become, flags, and entitlements. */
import { describe, expect, it } from 'vitest';
import { findOrderViolations } from '../llb/index.ts';
import { errorOf, lastExec, lastFile, lower, opsOf } from './testing/lower.ts';

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
