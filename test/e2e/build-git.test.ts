/**
 * ADD <git repository> against a real git server: `git daemon` on 127.0.0.1 serving a
 * repository made here (no git host on the internet is reachable from this machine).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, makeContext, useBuildStore, workSteps } from '../helpers/build-harness.ts';

const dirs = useBuildStore();
let daemon: ChildProcess;
let repoUrl: string;
let work: string;

function git(args: string[], cwd = work): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
    },
  }).trim();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  const base = path.join(dirs.scratch, 'git');
  work = path.join(base, 'work');
  mkdirSync(path.join(work, 'sub'), { recursive: true });
  git(['init', '-q', '-b', 'main', work], base);
  writeFileSync(path.join(work, 'README'), 'version 1\n');
  writeFileSync(path.join(work, 'sub', 'tool.sh'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
  mkdirSync(path.join(work, 'app'));
  writeFileSync(
    path.join(work, 'app', 'Dockerfile'),
    'FROM localhost:5000/busybox:latest\nCOPY . /app\n',
  );
  git(['add', '.']);
  git(['commit', '-q', '-m', 'one']);
  git(['tag', '-a', 'v1', '-m', 'v1']);
  writeFileSync(path.join(work, 'README'), 'version 2\n');
  git(['commit', '-q', '-am', 'two']);
  git(['clone', '-q', '--bare', work, path.join(base, 'repo.git')], base);
  const port = await freePort();
  daemon = spawn(
    'git',
    [
      'daemon',
      '--reuseaddr',
      '--export-all',
      `--base-path=${base}`,
      '--listen=127.0.0.1',
      `--port=${port}`,
      base,
    ],
    { stdio: 'ignore' },
  );
  repoUrl = `git://127.0.0.1:${port}/repo.git`;
  // Ready once ls-remote answers.
  for (let i = 0; i < 100; i++) {
    try {
      git(['ls-remote', repoUrl], base);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('git daemon did not start');
});

afterAll(() => {
  daemon?.kill();
});

describe('ADD <git repository>', () => {
  it('checks out a branch, a tag, a commit and a subdirectory, without .git unless asked', async () => {
    const commitOne = git(['rev-parse', 'v1^{commit}']);
    const ctx = await makeContext({
      Dockerfile: [
        'FROM localhost:5000/busybox:latest',
        `ADD ${repoUrl} /head`,
        `ADD ${repoUrl}#v1 /tag`,
        `ADD ${repoUrl}#${commitOne} /commit`,
        `ADD ${repoUrl}#main:sub /sub`,
        `ADD --keep-git-dir=true ${repoUrl}#main /with-git`,
        '',
      ].join('\n'),
    });
    const out = path.join(dirs.scratch, 'git-out');
    const run = await build(dirs.store, ctx, ['-o', `type=local,dest=${out}`]);
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(path.join(out, 'head/README'), 'utf8')).toBe('version 2\n');
    expect(readFileSync(path.join(out, 'tag/README'), 'utf8')).toBe('version 1\n');
    expect(readFileSync(path.join(out, 'commit/README'), 'utf8')).toBe('version 1\n');
    expect(existsSync(path.join(out, 'head/.git'))).toBe(false);
    // A subdirectory: its contents, and the executable bit from git.
    expect(readFileSync(path.join(out, 'sub/tool.sh'), 'utf8')).toContain('echo tool');
    expect(statSync(path.join(out, 'sub/tool.sh')).mode & 0o777).toBe(0o755);
    expect(existsSync(path.join(out, 'sub/README'))).toBe(false);
    expect(existsSync(path.join(out, 'with-git/.git'))).toBe(true);
  });

  it('is cached while the ref points at the same commit, and fetched again when it moves', async () => {
    const ctx = await makeContext({
      Dockerfile: `FROM localhost:5000/busybox:latest\nADD ${repoUrl}#main /src\nRUN cat /src/README > /seen\n`,
    });
    expect((await build(dirs.store, ctx)).code).toBe(0);
    const again = await build(dirs.store, ctx);
    expect(workSteps(again.ran)).toEqual([]);

    writeFileSync(path.join(work, 'README'), 'version 3\n');
    git(['commit', '-q', '-am', 'three']);
    git(['push', '-q', path.join(path.dirname(work), 'repo.git'), 'main']);
    const out = path.join(dirs.scratch, 'git-moved');
    const moved = await build(dirs.store, ctx, ['-o', `type=local,dest=${out}`]);
    expect(moved.code, moved.stderr).toBe(0);
    expect(workSteps(moved.ran).length).toBeGreaterThan(0);
    expect(readFileSync(path.join(out, 'seen'), 'utf8')).toBe('version 3\n');
  });

  it('builds a git repository as the context: ref, subdirectory, no .git', async () => {
    const out = path.join(dirs.scratch, 'git-context');
    const run = await build(dirs.store, `${repoUrl}#v1:app`, ['-o', `type=local,dest=${out}`]);
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(path.join(out, 'app/Dockerfile'), 'utf8')).toContain('COPY . /app');
    expect(existsSync(path.join(out, 'app/.git'))).toBe(false);
    expect(existsSync(path.join(out, 'app/README'))).toBe(false);
    // The same repository as a named context.
    const ctx = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox:latest\nCOPY --from=repo /README /named-readme\n',
    });
    const named = path.join(dirs.scratch, 'git-named');
    const withNamed = await build(dirs.store, ctx, [
      '--build-context',
      `repo=${repoUrl}#v1`,
      '-o',
      `type=local,dest=${named}`,
    ]);
    expect(withNamed.code, withNamed.stderr).toBe(0);
    expect(readFileSync(path.join(named, 'named-readme'), 'utf8')).toBe('version 1\n');
    const bad = await build(dirs.store, `${repoUrl}#v1:nowhere`);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('nowhere is not a directory');
  });

  it('fails with the git error and a hint for a missing ref', async () => {
    const ctx = await makeContext({
      Dockerfile: `FROM localhost:5000/busybox:latest\nADD ${repoUrl}#no-such-branch /src\n`,
    });
    const run = await build(dirs.store, ctx);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('git ref no-such-branch not found');
  });
});
