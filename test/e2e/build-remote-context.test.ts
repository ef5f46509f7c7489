/**
 * Contexts that are not a directory, as `docker build` takes them: `-` (a Dockerfile or a
 * compressed context archive on stdin) and an http URL (served here on 127.0.0.1). Git
 * contexts are tested in build-git.test.ts, beside a real git daemon.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { build, makeContext, useBuildStore } from '../helpers/build-harness.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';

const dirs = useBuildStore();

const leftovers = () => readdirSync(os.tmpdir()).filter((n) => n.startsWith('tbuild-context-'));

describe('build -', () => {
  it('builds a Dockerfile read from stdin with an empty context', async () => {
    const before = leftovers();
    const out = path.join(dirs.scratch, 'stdin-dockerfile');
    const run = await runTbuild(
      ['build', '--root', dirs.store, '-o', `type=local,dest=${out}`, '-'],
      { input: 'FROM localhost:5000/busybox:latest\nRUN echo from-stdin > /mark\n' },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(path.join(out, 'mark'), 'utf8')).toBe('from-stdin\n');
    expect(leftovers()).toEqual(before);
  });

  it('builds a gzipped context archive from stdin, -f naming a Dockerfile inside it', async () => {
    const ctx = await makeContext({
      'build/app.Dockerfile': 'FROM localhost:5000/busybox:latest\nCOPY . /ctx\n',
      'src/main.txt': 'main',
      '.dockerignore': 'secret\n',
      secret: 'not sent',
    });
    const archive = execFileSync('tar', ['-czf', '-', '-C', ctx, '.']);
    const out = path.join(dirs.scratch, 'stdin-archive');
    const run = await runTbuild(
      [
        'build',
        '--root',
        dirs.store,
        '-f',
        'build/app.Dockerfile',
        '-o',
        `type=local,dest=${out}`,
        '-',
      ],
      { input: archive },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(path.join(out, 'ctx/src/main.txt'), 'utf8')).toBe('main');
    expect(readdirSync(path.join(out, 'ctx')).sort()).toEqual(['.dockerignore', 'build', 'src']);
  });

  it('builds from an http URL: a context archive, or a Dockerfile', async () => {
    const ctx = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox:latest\nCOPY hello.txt /\n',
      'hello.txt': 'over http',
    });
    const archive = execFileSync('tar', ['-czf', '-', '-C', ctx, '.']);
    const server = createServer((req, res) => {
      if (req.url === '/context.tar.gz') res.end(archive);
      else if (req.url === '/Dockerfile')
        res.end('FROM localhost:5000/busybox:latest\nRUN echo plain > /plain\n');
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const out = path.join(dirs.scratch, 'url-archive');
      const run = await build(dirs.store, `${base}/context.tar.gz`, [
        '-o',
        `type=local,dest=${out}`,
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(readFileSync(path.join(out, 'hello.txt'), 'utf8')).toBe('over http');
      const plainOut = path.join(dirs.scratch, 'url-dockerfile');
      const plain = await build(dirs.store, `${base}/Dockerfile`, [
        '-o',
        `type=local,dest=${plainOut}`,
      ]);
      expect(plain.code, plain.stderr).toBe(0);
      expect(readFileSync(path.join(plainOut, 'plain'), 'utf8')).toBe('plain\n');
      // An http archive as a named context.
      const other = await makeContext({
        Dockerfile: 'FROM localhost:5000/busybox:latest\nCOPY --from=web hello.txt /web.txt\n',
      });
      const namedOut = path.join(dirs.scratch, 'url-named');
      const named = await build(dirs.store, other, [
        '--build-context',
        `web=${base}/context.tar.gz`,
        '-o',
        `type=local,dest=${namedOut}`,
      ]);
      expect(named.code, named.stderr).toBe(0);
      expect(readFileSync(path.join(namedOut, 'web.txt'), 'utf8')).toBe('over http');
      const missing = await build(dirs.store, `${base}/nothing.tar`);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('HTTP 404');
    } finally {
      server.close();
    }
  });

  it('refuses stdin for both the Dockerfile and the context', async () => {
    const run = await runTbuild(['build', '--root', dirs.store, '-f', '-', '-'], {
      input: 'FROM scratch\n',
    });
    expect(run.code).toBe(125);
    expect(run.stderr).toContain(
      'cannot read both the Dockerfile and the build context from stdin',
    );
  });
});

describe('--build-context', () => {
  it('names directories and images that FROM, COPY --from and stages resolve to', async () => {
    const extras = await makeContext({ 'data.txt': 'extra data', 'nested/n.txt': 'n' });
    const ctx = await makeContext({
      Dockerfile: [
        // A stage of the same name is overridden by the named context, as in BuildKit.
        'FROM localhost:5000/busybox:latest AS deps',
        'RUN echo from-stage > /data.txt',
        'FROM extras AS files',
        'FROM base',
        'COPY --from=deps /data.txt /from-deps.txt',
        'COPY --from=files /nested /nested',
        'RUN --mount=type=bind,from=extras,target=/x cat /x/data.txt > /mounted.txt',
        '',
      ].join('\n'),
    });
    const out = path.join(dirs.scratch, 'named-contexts');
    const run = await build(dirs.store, ctx, [
      '--build-context',
      `deps=${extras}`,
      '--build-context',
      `extras=${extras}`,
      '--build-context',
      'base=docker-image://localhost:5000/busybox:latest',
      '-o',
      `type=local,dest=${out}`,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(path.join(out, 'from-deps.txt'), 'utf8')).toBe('extra data');
    expect(readFileSync(path.join(out, 'nested/n.txt'), 'utf8')).toBe('n');
    expect(readFileSync(path.join(out, 'mounted.txt'), 'utf8')).toBe('extra data');
    const bad = await build(dirs.store, ctx, ['--build-context', 'x=/nonexistent']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain('--build-context x: /nonexistent is not a directory');
  });
});
