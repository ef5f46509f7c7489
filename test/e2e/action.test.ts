/**
 * The GitHub Action as the runner runs it: `node dist/index.js` with INPUT_* variables and
 * the runner's files (test/helpers/action-harness.ts). A real build that pushes to a
 * loopback registry, a second step of the job on the same store, a failing Dockerfile
 * and its annotation, unsupported inputs, and the default Git context.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRunner, runActionStep, type FakeRunner } from '../helpers/action-harness.ts';
import { ensureBusyboxImage } from '../helpers/base-images.ts';
import { makeContext } from '../helpers/build-harness.ts';
import { startGhaCacheService, type GhaCacheService } from '../helpers/gha-cache-service.ts';
import { freePort, startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';

const run = promisify(execFile);
const SECRET = 's3cr3t-token-8c1f';
/** The Dockerfile checks the secret by its hash, so that its text holds no secret. */
const SECRET_MD5 = createHash('md5').update(SECRET).digest('hex');
const DIGEST = /^sha256:[0-9a-f]{64}$/;

let registry: TestRegistry;
let runner: FakeRunner;
beforeAll(async () => {
  registry = await startRegistry();
  runner = await makeRunner();
  await ensureBusyboxImage(runner.store);
});
afterAll(async () => {
  await registry?.stop();
  if (runner) await rm(runner.dir, { recursive: true, force: true });
});

/** Every ::group:: is closed, in order. */
function groupsBalanced(stdout: string): boolean {
  let open = 0;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('::group::')) open++;
    if (line.startsWith('::endgroup::')) open--;
    if (open < 0 || open > 1) return false;
  }
  return open === 0;
}

describe('a build that pushes', () => {
  let workspace: string;
  beforeAll(async () => {
    workspace = await makeContext({
      Dockerfile: [
        'FROM localhost:5000/busybox:latest',
        'ARG GREETING',
        `RUN --mount=type=secret,id=token test "$(md5sum < /run/secrets/token | cut -c1-32)" = ${SECRET_MD5} && echo "$GREETING" > /greeting`,
        'COPY app.txt /app.txt',
        '',
      ].join('\n'),
      'app.txt': 'app\n',
    });
  });
  afterAll(() => rm(workspace, { recursive: true, force: true }));

  const inputs = () => ({
    context: '.',
    tags: `${registry.host}/app:1\n${registry.host}/app:latest`,
    push: 'true',
    'build-args': 'GREETING=hello, world',
    labels: 'org.opencontainers.image.title=app\nteam=a,b',
    secrets: `token=${SECRET}`,
  });

  it('pushes the image and sets imageid, digest and metadata as build-push-action does', async () => {
    const step = await runActionStep(runner, { workspace, inputs: inputs() });
    expect(step.stderr).toBe('');
    expect(step.code, step.stdout).toBe(0);
    const { imageid, digest, metadata } = step.outputs;
    // build-push-action's documented outputs: imageid (Image ID), digest (Image digest),
    // metadata (Build result metadata: buildx's --metadata-file JSON).
    expect(imageid).toMatch(DIGEST);
    expect(digest).toMatch(DIGEST);
    const meta = JSON.parse(metadata!) as Record<string, unknown>;
    expect(meta).toMatchObject({
      'containerimage.digest': digest,
      'containerimage.config.digest': imageid,
      'containerimage.descriptor': {
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        digest,
        size: expect.any(Number),
      },
      'image.name': `${registry.host}/app:1,${registry.host}/app:latest`,
    });
    expect(metadata).toBe(JSON.stringify(meta, null, 2));
    // The registry serves the pushed manifest under both tags, with that digest.
    for (const tag of ['1', 'latest']) {
      const res = await fetch(`${registry.url}/v2/app/manifests/${tag}`, {
        headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('docker-content-digest')).toBe(digest);
    }
    const config = JSON.parse(
      (
        await run('skopeo', [
          'inspect',
          '--tls-verify=false',
          '--config',
          `docker://${registry.host}/app:1`,
        ])
      ).stdout,
    ) as { config: { Labels: Record<string, string> } };
    expect(config.config.Labels).toEqual({ 'org.opencontainers.image.title': 'app', team: 'a,b' });
  });

  it('writes a job summary with the image, digest, size, push destination and steps', async () => {
    const step = await runActionStep(runner, {
      workspace,
      inputs: { ...inputs(), 'no-cache': 'true' },
    });
    expect(step.code, step.stdout).toBe(0);
    const s = step.summary;
    expect(s).toMatch(
      /^### :white_check_mark: tbuild built <code>localhost:\d+\/app:1<\/code> in \d+\.\ds/,
    );
    expect(s).toContain(`| Digest | <code>${step.outputs.digest}</code> |`);
    expect(s).toContain(`| Image ID | <code>${step.outputs.imageid}</code> |`);
    expect(s).toMatch(/\| Size \| \d+\.\d (KiB|MiB) \(3 compressed layers and config\) \|/);
    expect(s).toContain(
      `| Pushed to | <code>${registry.host}/app:1</code><br><code>${registry.host}/app:latest</code> |`,
    );
    expect(s).toMatch(
      /\| <code>\[(?:stage-0 )?2\/3\] RUN --mount=type=secret,id=token .*<\/code> \| run \| \d+\.\ds \| cache lookups are disabled/,
    );
    // Progress: plain lines, one group per stage.
    expect(groupsBalanced(step.stdout)).toBe(true);
    expect(step.stdout).toMatch(
      /^::group::(?:Build steps|Stage stage-0)\n(.*\n)*#\d+ \[(?:stage-0 )?2\/3\] RUN --mount=type=secret/m,
    );
  });

  it('masks the secret before anything else and never writes it to outputs, summary or state', async () => {
    const step = await runActionStep(runner, { workspace, inputs: inputs() });
    expect(step.code).toBe(0);
    const lines = step.stdout.split('\n');
    const first = lines.findIndex((l) => l.includes(SECRET));
    expect(lines[first]).toBe(`::add-mask::${SECRET}`);
    expect(lines.filter((l) => l.includes(SECRET))).toEqual([`::add-mask::${SECRET}`]);
    expect(JSON.stringify(step.outputs) + step.summary + step.state + step.stderr).not.toContain(
      SECRET,
    );
  });

  it('a later step of the same job finds everything in the store: every step cached', async () => {
    const step = await runActionStep(runner, { workspace, inputs: inputs() });
    expect(step.code).toBe(0);
    expect(step.summary).toMatch(/<summary>\d+ steps: 1 run, \d+ cached<\/summary>/);
    expect(step.summary).toContain('| <code>[internal] load build context</code> | run |');
  });
});

describe('a failing build', () => {
  let workspace: string;
  beforeAll(async () => {
    workspace = await makeContext({
      'docker/Dockerfile': [
        'FROM localhost:5000/busybox:latest',
        'MAINTAINER someone@example.com',
        'RUN echo "building, 100%: done" && \\',
        '    exit 3',
        '',
      ].join('\n'),
    });
  });
  afterAll(() => rm(workspace, { recursive: true, force: true }));

  it('annotates the failing lines of the Dockerfile, escaped as the runner reads them', async () => {
    const step = await runActionStep(runner, {
      workspace,
      inputs: { context: '.', file: 'docker/Dockerfile', tags: 'broken:1' },
    });
    expect(step.code).toBe(1);
    const errors = step.stdout.split('\n').filter((l) => l.startsWith('::error'));
    expect(errors).toEqual([
      '::error file=docker/Dockerfile,line=3,endLine=4,title=tbuild%3A build failed::' +
        '[2/2] RUN echo "building, 100%25: done" &&     exit 3: process "/bin/sh -c echo "building, 100%25: done" &&     exit 3" did not complete successfully: exit code: 3' +
        '%0Ahint: Read the step output above; the command itself failed inside the container.',
    ]);
    expect(step.stdout).toContain(
      '::warning file=docker/Dockerfile,line=2,endLine=2::Maintainer instruction is deprecated in favor of using label',
    );
    expect(groupsBalanced(step.stdout)).toBe(true);
    expect(step.outputs).toEqual({});
    expect(step.summary).toMatch(
      /^### :x: tbuild build failed at <code>docker\/Dockerfile:3-4<\/code>/,
    );
  });
});

describe('inputs tbuild does not support', () => {
  let workspace: string;
  beforeAll(async () => {
    workspace = await makeContext({ Dockerfile: 'FROM localhost:5000/busybox:latest\n' });
  });
  afterAll(() => rm(workspace, { recursive: true, force: true }));

  it.each([
    ['cache-from', 'type=local', /input "cache-from": --cache-from type=local needs src=/],
    ['cache-to', 'type=registry,mode=all', /input "cache-to": --cache-to type=registry needs ref=/],
    [
      'provenance',
      'mode=max',
      /input "provenance": "mode=max": tbuild does not make provenance attestations yet/,
    ],
  ])(
    '%s fails the step, naming the input, before anything is built',
    async (name, value, message) => {
      const step = await runActionStep(runner, {
        workspace,
        inputs: { context: '.', [name]: value },
      });
      expect(step.code).toBe(1);
      const error = step.stdout.split('\n').find((l) => l.startsWith('::error'));
      expect(error).toMatch(/^::error title=tbuild%3A invalid input::/);
      expect(decodeURIComponent(error!.replace(/^::error[^:]*::/, ''))).toMatch(message);
      expect(step.stdout).not.toContain('::group::');
    },
  );
});

describe('the default context', () => {
  let daemon: ChildProcess;
  let base: string;
  let sha: string;
  let port: number;
  beforeAll(async () => {
    // The repository on a git daemon, standing in for https://github.com/OWNER/REPO.git.
    base = await mkdtemp(path.join(tmpdir(), 'tbuild-git-'));
    const repo = path.join(base, 'tbuild-tests/app.git');
    await mkdir(repo, { recursive: true });
    const git = (...args: string[]) => run('git', ['-C', repo, ...args]);
    await git('init', '-q', '-b', 'main');
    await writeFile(
      path.join(repo, 'Dockerfile'),
      'FROM localhost:5000/busybox:latest\nCOPY hello.txt /\n',
    );
    await writeFile(path.join(repo, 'hello.txt'), 'from git\n');
    await git('add', '.');
    await git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'app');
    sha = (await git('rev-parse', 'HEAD')).stdout.trim();
    await git('config', 'uploadpack.allowAnySHA1InWant', 'true');
    port = await freePort();
    daemon = spawn(
      'git',
      [
        'daemon',
        '--export-all',
        `--base-path=${base}`,
        '--listen=127.0.0.1',
        `--port=${port}`,
        '--reuseaddr',
        base,
      ],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 50; i++) {
      const ok = await run('git', [
        'ls-remote',
        `git://127.0.0.1:${port}/tbuild-tests/app.git`,
      ]).then(
        () => true,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  afterAll(async () => {
    daemon?.kill();
    await rm(base, { recursive: true, force: true });
  });

  it('is the repository at the event commit, fetched with git, not the workspace', async () => {
    const workspace = await mkdtemp(path.join(tmpdir(), 'tbuild-empty-ws-'));
    try {
      const step = await runActionStep(runner, {
        workspace,
        inputs: { tags: 'from-git:1' },
        env: { GITHUB_SERVER_URL: `git://127.0.0.1:${port}`, GITHUB_SHA: sha },
      });
      expect(step.code, step.stdout).toBe(0);
      expect(step.stdout).toContain('COPY hello.txt /');
      expect(step.outputs.imageid).toMatch(DIGEST);
    } finally {
      await rm(workspace, { recursive: true, force: true });
    }
  });
});

/**
 * A hosted runner starts the Action as its own user, with passwordless sudo. Here that
 * user is `nobody`, given sudo by a drop-in that lives only as long as this test.
 */
describe.skipIf(!existsSync('/usr/bin/sudo') || process.getuid?.() !== 0)(
  'as the runner user (not root)',
  () => {
    const sudoers = '/etc/sudoers.d/tbuild-action-test';
    let workspace: string;
    beforeAll(async () => {
      await writeFile(sudoers, 'nobody ALL=(ALL) NOPASSWD: ALL\n', { mode: 0o440 });
      workspace = await makeContext({
        Dockerfile: 'FROM localhost:5000/busybox:latest\nRUN id -u > /uid\n',
      });
      // The runner's user owns its workspace and step files.
      await chmod(runner.dir, 0o755);
      await chmod(runner.runnerTemp, 0o1777);
      await run('chown', ['-R', 'nobody:nogroup', workspace]);
    });
    afterAll(async () => {
      await rm(sudoers, { force: true });
      await rm(workspace, { recursive: true, force: true });
    });

    it('re-runs itself as root through sudo, builds, and gives the outputs back to the user', async () => {
      const step = await runActionStep(runner, {
        workspace,
        inputs: { context: '.', outputs: 'type=local,dest=out' },
        user: 'nobody',
      });
      expect(step.stderr).toBe('');
      expect(step.code, step.stdout).toBe(0);
      // The RUN step ran as root in its container; the files are the runner user's again.
      expect(await readFile(path.join(workspace, 'out/uid'), 'utf8')).toBe('0\n');
      const owner = await stat(path.join(workspace, 'out/uid'));
      expect([owner.uid, (await stat(path.join(workspace, 'out'))).uid]).toEqual([65534, 65534]);
      expect(step.outputs.metadata).toBe('{}');
      expect(step.outputs.imageid).toBeUndefined();
    });

    it('fails with the reason when the user may not sudo', async () => {
      await rm(sudoers, { force: true });
      const step = await runActionStep(runner, {
        workspace,
        inputs: { context: '.' },
        user: 'nobody',
      });
      expect(step.code).toBe(1);
      expect(step.stdout).toMatch(
        /^::error title=tbuild%3A runner setup failed::tbuild needs root, and sudo -n failed: .*password is required/m,
      );
    });
  },
);

// GitHub's cache service cannot be reached from here: its Twirp side is SIMULATED by a test
// server (test/helpers/gha-cache-service.ts); the blobs go to azurite, the real Azure
// Storage emulator. The runner hands the action ACTIONS_RESULTS_URL and ACTIONS_RUNTIME_TOKEN.
describe('cache-to and cache-from type=gha between two jobs', () => {
  let service: GhaCacheService;
  let workspace: string;
  const jobs: FakeRunner[] = [];
  beforeAll(async () => {
    service = await startGhaCacheService();
    // Both jobs start empty, as CI runners do: the base comes from the registry.
    const base = `${registry.host}/busybox:gha`;
    const seed = await makeRunner();
    jobs.push(seed);
    await ensureBusyboxImage(seed.store, { ref: base });
    const pushed = await runTbuild(['push', '--root', seed.store, base]);
    expect(pushed.code, pushed.stderr).toBe(0);
    workspace = await makeContext({
      Dockerfile: `FROM ${base}\nCOPY app.txt /\nRUN date +%s%N > /built-at\n`,
      'app.txt': 'app\n',
    });
  }, 120_000);
  afterAll(async () => {
    await service?.stop();
    await rm(workspace, { recursive: true, force: true });
    for (const job of jobs) await rm(job.dir, { recursive: true, force: true });
  });

  it('gives a second job, on an empty runner, every step from the first job’s cache', async () => {
    const env = { ACTIONS_RESULTS_URL: service.url, ACTIONS_RUNTIME_TOKEN: service.token };
    const step = async (inputs: Record<string, string>) => {
      const job = await makeRunner();
      jobs.push(job);
      return runActionStep(job, { workspace, inputs: { context: '.', ...inputs }, env });
    };
    const first = await step({ 'cache-to': 'type=gha,mode=max' });
    expect(first.code, first.stdout).toBe(0);
    const second = await step({ 'cache-from': 'type=gha' });
    expect(second.code, second.stdout).toBe(0);
    // Same image (the RUN that writes the time did not run again), every step cached.
    expect(second.outputs.imageid).toBe(first.outputs.imageid);
    expect(second.stdout).toMatch(/RUN date \+%s%N > \/built-at\n#\d+ CACHED/);
    expect(second.summary).toMatch(/RUN date \+%s%N &gt; \/built-at<\/code> \| cached \|/);
    expect(service.calls.map((c) => c.method)).toEqual(
      expect.arrayContaining([
        'CreateCacheEntry',
        'FinalizeCacheEntryUpload',
        'GetCacheEntryDownloadURL',
      ]),
    );
  }, 300_000);
});
