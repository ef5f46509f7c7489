/** `tbuild build -`: a Dockerfile or a (compressed) context archive on stdin, as `docker build -`. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeContext, useBuildStore } from '../helpers/build-harness.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';

const dirs = useBuildStore();

const leftovers = () => readdirSync(os.tmpdir()).filter((n) => n.startsWith('tbuild-stdin-'));

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

  it('refuses stdin for both the Dockerfile and the context', async () => {
    const run = await runTbuild(['build', '--root', dirs.store, '-f', '-', '-'], {
      input: 'FROM scratch\n',
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'cannot read both the Dockerfile and the build context from stdin',
    );
  });
});
