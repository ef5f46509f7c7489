/**
 * tbuild as an installed tool: `npm pack` → `npm install -g` of the tarball into a temporary
 * prefix gives a `tbuild` on PATH that builds; `--version`, `completion` and `doctor` as a
 * user runs them; and a build on a machine without runc fails before any step runs.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeContext, parseEvents, useBuildStore } from '../helpers/build-harness.ts';
import { REPO_ROOT, runTbuild } from '../helpers/run-tbuild.ts';

const run = promisify(execFile);
const dirs = useBuildStore();

describe('the packed tarball', () => {
  let work: string;
  let tbuildBin: string;
  let files: string[];

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'tbuild-pack-'));
    // npm pack runs prepack (the build), as a release does.
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: REPO_ROOT,
      maxBuffer: 16 << 20,
    });
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as {
      filename: string;
      files: { path: string }[];
    }[];
    files = packed!.files.map((f) => f.path);
    const prefix = path.join(work, 'prefix');
    await run(
      'npm',
      ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund'].concat(
        path.join(work, packed!.filename),
      ),
      { cwd: work },
    );
    tbuildBin = path.join(prefix, 'bin/tbuild');
  }, 300_000);
  afterAll(() => rm(work, { recursive: true, force: true }));

  it('holds the CLI, the compiled library and its build info, and no sources or tests', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'bin/tbuild.js',
        'lib/cli/main.js',
        'lib/bundle/main.js',
        'lib/bundle-build/main.js',
        'lib/builder/index.js',
        'lib/builder/index.d.ts',
        'lib/build-info.json',
        'package.json',
        'README.md',
      ]),
    );
    expect(files.filter((f) => /^src\/|\.test\.|test-helpers|fake-worker|\.map$/.test(f))).toEqual(
      [],
    );
    expect(files.filter((f) => f.startsWith('lib/action/') || f.startsWith('dist/'))).toEqual([]);
  });

  it('installs a tbuild that knows its version and commit', async () => {
    const { stdout } = await run(tbuildBin, ['--version']);
    expect(stdout).toMatch(/^tbuild v0\.1\.0 [0-9a-f]{40}(\.m)?\n$/);
  });

  it('installs a tbuild that builds an image with a RUN step', async () => {
    const context = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox:latest\nRUN echo installed > /proof\n',
    });
    try {
      const { stderr } = await run(
        tbuildBin,
        ['build', '--root', dirs.store, '--progress=json', '-t', 'installed:1', context],
        { env: { ...process.env, NO_COLOR: '1' } },
      );
      const ran = parseEvents(stderr).flatMap((e) => (e.type === 'vertex.started' ? [e.name] : []));
      expect(ran).toContainEqual(expect.stringContaining('RUN echo installed > /proof'));
      const images = await run(tbuildBin, ['images', '--root', dirs.store]);
      expect(images.stdout).toMatch(/^installed\s+1\s/m);
    } finally {
      await rm(context, { recursive: true, force: true });
    }
  });
});

describe('tbuild version, completion and doctor', () => {
  it('--version and version print the name, version and commit as buildx does', async () => {
    const a = await runTbuild(['--version']);
    const b = await runTbuild(['version']);
    expect(a.stdout).toMatch(/^tbuild v\d+\.\d+\.\d+ [0-9a-f]{40}(\.m)?\n$/);
    expect(b.stdout).toBe(a.stdout);
  });

  it('completion prints a bash script that completes commands and flags', async () => {
    const script = await runTbuild(['completion'], { env: { SHELL: '/bin/bash' } });
    expect(script.stdout).toContain(
      'complete -o bashdefault -o default -F _tbuild_yargs_completions tbuild',
    );
    const commands = await runTbuild(['--get-yargs-completions', 'tbuild', '']);
    expect(commands.stdout.split('\n')).toEqual(
      expect.arrayContaining(['build', 'doctor', 'images']),
    );
    const flags = await runTbuild(['--get-yargs-completions', 'tbuild', 'build', '--']);
    expect(flags.stdout.split('\n')).toEqual(expect.arrayContaining(['--tag', '--build-arg']));
  });

  it('completion prints a zsh script under zsh', async () => {
    const script = await runTbuild(['completion'], { env: { SHELL: '/usr/bin/zsh' } });
    expect(script.stdout).toContain('compdef _tbuild_yargs_completions tbuild');
  });

  describe('on a machine without runc', () => {
    let bin: string;
    beforeAll(async () => {
      // A PATH with every tool tbuild uses but runc.
      bin = await mkdtemp(path.join(tmpdir(), 'tbuild-path-'));
      for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
        for (const name of await readdir(dir).catch(() => [] as string[])) {
          if (name === 'runc') continue;
          await symlink(path.join(dir, name), path.join(bin, name)).catch(() => undefined);
        }
      }
      await mkdir(path.join(bin, 'empty'), { recursive: true });
    });
    afterAll(() => rm(bin, { recursive: true, force: true }));

    it('doctor names runc, the package and the install command, and exits 1', async () => {
      const result = await runTbuild(['doctor'], { env: { PATH: bin } });
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^FAIL\s+runc\s+runc not found on PATH/m);
      expect(result.stdout).toContain('apt-get install -y --no-install-recommends runc');
    });

    it('a build fails before its first step with what to install', async () => {
      const context = await makeContext({
        Dockerfile: 'FROM localhost:5000/busybox:latest\nCOPY . /src\nRUN true\n',
      });
      try {
        const result = await runTbuild(
          ['build', '--root', dirs.store, '--progress=json', context],
          { env: { PATH: bin } },
        );
        expect(result.code).toBe(1);
        expect(result.stderr).toContain('ERROR: this machine cannot run builds: runc not found');
        expect(result.stderr).toContain('apt-get install -y --no-install-recommends runc');
        const started = parseEvents(result.stderr).filter((e) => e.type === 'vertex.started');
        expect(started).toEqual([]);
      } finally {
        await rm(context, { recursive: true, force: true });
      }
    });
  });
});
