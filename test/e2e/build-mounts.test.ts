/**
 * RUN --mount and cache control through the CLI: secrets reach the step but never the
 * image, cache mounts persist between builds, --no-cache and --no-cache-filter rerun steps.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { build, makeContext, useBuildStore, workSteps } from '../helpers/build-harness.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';

const dirs = useBuildStore();

describe('RUN mounts and cache control', () => {
  it('gives a secret to the step that mounts it and leaves it out of the image', async () => {
    const secretFile = path.join(dirs.scratch, 'token');
    writeFileSync(secretFile, 's3cr3t');
    const ctx = await makeContext({
      Dockerfile: [
        'FROM localhost:5000/busybox:latest',
        'RUN --mount=type=secret,id=token cat /run/secrets/token | wc -c > /token-length',
        'RUN --mount=type=secret,id=token,env=TOKEN sh -c \'test "${#TOKEN}" = 6 && echo ok > /env-ok\'',
        '',
      ].join('\n'),
    });
    const files = path.join(dirs.scratch, 'secret-files');
    const run = await build(dirs.store, ctx, [
      '--secret',
      `id=token,src=${secretFile}`,
      '-o',
      `type=local,dest=${files}`,
    ]);
    expect(run.code).toBe(0);
    expect(readFileSync(path.join(files, 'token-length'), 'utf8').trim()).toBe('6');
    expect(readFileSync(path.join(files, 'env-ok'), 'utf8')).toBe('ok\n');
    expect(existsSync(path.join(files, 'run/secrets/token'))).toBe(false);
    expect(run.stderr).not.toContain('s3cr3t');
  });

  // Secrets are optional unless required=true, as in BuildKit.
  it('fails clearly when a required secret is not given', async () => {
    const ctx = await makeContext({
      Dockerfile:
        'FROM localhost:5000/busybox:latest\nRUN --mount=type=secret,id=missing,required=true true\n',
    });
    const run = await build(dirs.store, ctx);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('secret missing not found');
  });

  it('keeps a cache mount between builds and out of the image', async () => {
    const dockerfile = (n: number) =>
      `FROM localhost:5000/busybox:latest\nRUN --mount=type=cache,id=counter,target=/cache echo ${n} >> /cache/runs && cat /cache/runs | wc -l > /seen\n`;
    const ctx = await makeContext({ Dockerfile: dockerfile(1) });
    const first = path.join(dirs.scratch, 'cache-1');
    expect((await build(dirs.store, ctx, ['-o', `type=local,dest=${first}`])).code).toBe(0);
    writeFileSync(path.join(ctx, 'Dockerfile'), dockerfile(2));
    const second = path.join(dirs.scratch, 'cache-2');
    expect((await build(dirs.store, ctx, ['-o', `type=local,dest=${second}`])).code).toBe(0);
    expect(Number(readFileSync(path.join(second, 'seen'), 'utf8'))).toBe(
      Number(readFileSync(path.join(first, 'seen'), 'utf8')) + 1,
    );
    expect(existsSync(path.join(second, 'cache'))).toBe(false);

    // `prune -a` empties the cache mounts, as `docker builder prune -a` does.
    const du = await runTbuild(['du', '--root', dirs.store]);
    expect(du.stdout).toMatch(/Cache mounts:\s+4B \(1\)/);
    const pruned = await runTbuild(['prune', '-a', '-f', '--root', dirs.store]);
    expect(pruned.stdout).toContain('1 cache mounts');
    writeFileSync(path.join(ctx, 'Dockerfile'), dockerfile(3));
    const third = path.join(dirs.scratch, 'cache-3');
    expect((await build(dirs.store, ctx, ['-o', `type=local,dest=${third}`])).code).toBe(0);
    expect(readFileSync(path.join(third, 'seen'), 'utf8').trim()).toBe('1');
  });

  it('reruns every step with --no-cache and only the named stage with --no-cache-filter', async () => {
    const ctx = await makeContext({
      Dockerfile: [
        'FROM localhost:5000/busybox:latest AS deps',
        'RUN echo deps > /deps',
        'FROM localhost:5000/busybox:latest AS app',
        'COPY --from=deps /deps /deps',
        'RUN echo app > /app',
        '',
      ].join('\n'),
    });
    expect((await build(dirs.store, ctx)).code).toBe(0);
    const cached = await build(dirs.store, ctx);
    expect(workSteps(cached.ran)).toEqual([]);
    const all = await build(dirs.store, ctx, ['--no-cache']);
    expect(workSteps(all.ran)).toHaveLength(3);
    const filtered = await build(dirs.store, ctx, ['--no-cache-filter', 'app']);
    expect(workSteps(filtered.ran).every((n) => n.includes('[app'))).toBe(true);
    expect(workSteps(filtered.ran)).toHaveLength(2);
  });

  it('forwards an ssh agent with the mount owner and mode, and fails clearly without one', async () => {
    const agentSocket = path.join(dirs.scratch, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', agentSocket], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !existsSync(agentSocket); i++)
        await new Promise((r) => setTimeout(r, 20));
      const ctx = await makeContext({
        Dockerfile: [
          'FROM localhost:5000/busybox:latest',
          'RUN --mount=type=ssh,uid=1000,mode=0660 sh -c \'stat -c "%a %u %F" "$SSH_AUTH_SOCK" > /ssh && echo "$SSH_AUTH_SOCK" >> /ssh\'',
          "RUN --mount=type=ssh,id=other sh -c 'test ! -e /run/buildkit/ssh_agent.0 && echo absent > /optional'",
          '',
        ].join('\n'),
      });
      const files = path.join(dirs.scratch, 'ssh-files');
      const run = await build(dirs.store, ctx, [
        '--ssh',
        `default=${agentSocket}`,
        '-o',
        `type=local,dest=${files}`,
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(readFileSync(path.join(files, 'ssh'), 'utf8')).toBe(
        '660 1000 socket\n/run/buildkit/ssh_agent.0\n',
      );
      // An optional mount (the default) with no agent given for its id is left out.
      expect(readFileSync(path.join(files, 'optional'), 'utf8')).toBe('absent\n');
      expect(existsSync(path.join(files, 'run/buildkit/ssh_agent.0'))).toBe(false);

      writeFileSync(
        path.join(ctx, 'Dockerfile'),
        'FROM localhost:5000/busybox:latest\nRUN --mount=type=ssh,required=true true\n',
      );
      const missing = await build(dirs.store, ctx);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('no SSH agent given for ssh mount "default"');
      const keyFile = await build(dirs.store, ctx, [
        '--ssh',
        `default=${path.join(ctx, 'Dockerfile')}`,
      ]);
      // A flag value that cannot work is a usage error.
      expect(keyFile.code).toBe(125);
      expect(keyFile.stderr).toContain('is not an SSH agent socket');
    } finally {
      agent.kill();
    }
  });

  it('applies --add-host, --shm-size and --ulimit to RUN and keys steps on them', async () => {
    const ctx = await makeContext({
      Dockerfile: [
        'FROM localhost:5000/busybox:latest',
        "RUN grep db /etc/hosts > /hosts && grep ' /dev/shm ' /proc/mounts > /shm && " +
          'ulimit -n > /nofile && ulimit -Hn >> /nofile',
        '',
      ].join('\n'),
    });
    const flags = [
      '--add-host',
      'db:10.1.2.3',
      '--shm-size',
      '128m',
      '--ulimit',
      'nofile=1000:2000',
    ];
    const out = path.join(dirs.scratch, 'run-options');
    const run = await build(dirs.store, ctx, [...flags, '-o', `type=local,dest=${out}`]);
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(path.join(out, 'hosts'), 'utf8')).toBe('10.1.2.3\tdb\n');
    expect(readFileSync(path.join(out, 'shm'), 'utf8')).toContain('size=131072k');
    expect(readFileSync(path.join(out, 'nofile'), 'utf8')).toBe('1000\n2000\n');
    // The same flags hit the cache; another host mapping reruns the step, as in BuildKit.
    expect(workSteps((await build(dirs.store, ctx, flags)).ran)).toEqual([]);
    const moved = await build(dirs.store, ctx, [
      ...flags.slice(0, 1),
      'db:10.9.9.9',
      ...flags.slice(2),
    ]);
    expect(workSteps(moved.ran)).toHaveLength(1);
  });

  it("accepts docker build's legacy flags with a warning, and refuses cache import/export", async () => {
    const ctx = await makeContext({ Dockerfile: 'FROM localhost:5000/busybox:latest\n' });
    const legacy = await build(dirs.store, ctx, [
      '--rm',
      '--force-rm',
      '-m',
      '1g',
      '--provenance=false',
      '--sbom=false',
    ]);
    expect(legacy.code, legacy.stderr).toBe(0);
    const warnings = legacy.events.filter((e) => e.type === 'warning').map((e) => e.message);
    expect(warnings).toEqual([
      "--memory is ignored: it applies to docker's legacy builder, not to BuildKit or tbuild",
    ]);
  });

  it('gives a sharing=private cache held by another step a directory of its own', async () => {
    const step = (name: string) =>
      `RUN --mount=type=cache,id=private-cache,sharing=private,target=/c sh -c 'echo ${name} > /c/${name} && sleep 3 && ls /c > /seen'`;
    const ctx = await makeContext({
      Dockerfile: [
        'FROM localhost:5000/busybox:latest AS a',
        step('a'),
        'FROM localhost:5000/busybox:latest AS b',
        step('b'),
        'FROM localhost:5000/busybox:latest',
        'COPY --from=a /seen /a-seen',
        'COPY --from=b /seen /b-seen',
        '',
      ].join('\n'),
    });
    const files = path.join(dirs.scratch, 'private-cache');
    const run = await build(dirs.store, ctx, ['-o', `type=local,dest=${files}`]);
    expect(run.code, run.stderr).toBe(0);
    // The two steps ran at once (two cores); with `locked` the second would wait and see both.
    const seen = ['a', 'b'].map((s) => readFileSync(path.join(files, `${s}-seen`), 'utf8').trim());
    expect(seen).toEqual(['a', 'b']);
  });

  // BuildKit mounts the context as it was transferred, so .dockerignore applies (checked
  // against Docker 20.10: `ls -a` of the mount shows .dockerignore, Dockerfile, keep.txt).
  it('hides what .dockerignore excludes from bind mounts of the context, ro and rw', async () => {
    const ctx = await makeContext({
      '.dockerignore': 'secret.txt\nsub\n!sub/keep\n',
      'keep.txt': 'k',
      'secret.txt': 's',
      'sub/keep': 'kept by the exception',
      'sub/drop': 'd',
      Dockerfile: [
        'FROM localhost:5000/busybox:latest',
        'RUN --mount=type=bind,target=/ctx sh -c "cd /ctx && find . | sort > /ro && stat -c %a sub > /sub-mode"',
        'RUN --mount=type=bind,target=/ctx,rw sh -c "cd /ctx && find . | sort > /rw && touch new"',
        '',
      ].join('\n'),
    });
    chmodSync(path.join(ctx, 'sub'), 0o750);
    const files = path.join(dirs.scratch, 'bind-ignore');
    const run = await build(dirs.store, ctx, ['-o', `type=local,dest=${files}`]);
    expect(run.code, run.stderr).toBe(0);
    const expected = ['.', './.dockerignore', './Dockerfile', './keep.txt', './sub', './sub/keep'];
    expect(readFileSync(path.join(files, 'ro'), 'utf8').trim().split('\n')).toEqual(expected);
    expect(readFileSync(path.join(files, 'rw'), 'utf8').trim().split('\n')).toEqual(expected);
    expect(readFileSync(path.join(files, 'sub-mode'), 'utf8').trim()).toBe('750');
    // The host context is untouched, writes through the rw mount included.
    expect(existsSync(path.join(ctx, 'new'))).toBe(false);
    expect(existsSync(path.join(ctx, 'secret.txt'))).toBe(true);
  });
});
