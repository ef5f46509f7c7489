import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { annotationTarget, fileFor } from './annotations.ts';
import { toBuildOptions } from './build-options.ts';
import { defaultGitContext, expandDefaultContext, gitAuthEnv } from './git-context.ts';
import { readInputs } from './inputs.ts';

const DEFAULT = 'https://github.com/o/r.git#abc';
let secretsDir: string;
beforeAll(async () => {
  secretsDir = await mkdtemp(path.join(tmpdir(), 'tbuild-secrets-test-'));
});
afterAll(() => rm(secretsDir, { recursive: true, force: true }));

const map = (inputs: Record<string, string>, extraEnv: Record<string, string> = {}) => {
  const env = {
    ...Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v])),
    ...extraEnv,
  };
  return toBuildOptions(readInputs(env), { env, defaultContext: DEFAULT, secretsDir });
};

describe('inputs → build options', () => {
  it('maps every supported input to its typed option', async () => {
    const { options, exportsImage, pushTo } = await map(
      {
        context: './app',
        file: 'docker/Dockerfile',
        tags: 'r/app:1,r/app:2',
        'build-args': 'A=1\nB',
        target: 'prod',
        platforms: 'linux/amd64',
        'no-cache': 'true',
        'no-cache-filters': 'build,test',
        pull: 'true',
        push: 'true',
        labels: 'l=v',
        'build-contexts': 'base={{defaultContext}}:base\nlocal=./lib',
        'add-hosts': 'db:10.0.0.5',
        'shm-size': '128m',
        ulimit: 'nofile=1024:2048',
        network: 'none',
      },
      { B: 'from-env' },
    );
    expect(options).toMatchObject({
      context: './app',
      file: 'docker/Dockerfile',
      tags: ['r/app:1', 'r/app:2'],
      buildArgs: { A: '1', B: 'from-env' },
      target: 'prod',
      platform: 'linux/amd64',
      noCache: true,
      noCacheFilter: ['build', 'test'],
      pull: true,
      push: true,
      labels: { l: 'v' },
      buildContexts: { base: `${DEFAULT}:base`, local: './lib' },
      extraHosts: [{ host: 'db', ip: '10.0.0.5' }],
      shmSize: 128 * 1024 * 1024,
      ulimits: [{ name: 'nofile', soft: 1024, hard: 2048 }],
      network: 'none',
    });
    expect(exportsImage).toBe(true);
    expect(pushTo).toEqual(['r/app:1', 'r/app:2']);
  });

  it('uses the repository as a Git context by default, and {{defaultContext}} in context', async () => {
    expect((await map({})).options.context).toBe(DEFAULT);
    expect((await map({ context: '{{ defaultContext }}:sub' })).options.context).toBe(
      `${DEFAULT}:sub`,
    );
  });

  it('writes secrets to private files, masks their values, and reads secret-envs from env', async () => {
    const { options, masks, warnings } = await map(
      {
        secrets: 'tok=multi\nline',
        'secret-envs': 'npm=NPM_TOKEN',
        'secret-files': 'bad=/nonexistent',
      },
      { NPM_TOKEN: 'npm-secret' },
    );
    expect(masks).toEqual(['multi', 'npm-secret']);
    const [file, fromEnv] = options.secrets!;
    expect(fromEnv).toEqual({ id: 'npm', env: 'NPM_TOKEN' });
    expect(file).toMatchObject({ id: 'tok' });
    const written = (file as { file: string }).file;
    expect(await readFile(written, 'utf8')).toBe('multi');
    expect((await stat(written)).mode & 0o777).toBe(0o600);
    // "line" has no "=": left out with a warning that does not echo it.
    expect(warnings).toEqual([
      'input "secrets": entry 1 is not id=value; it is left out',
      'input "secret-files": bad=/nonexistent is not id=path of an existing file; left out',
    ]);
  });

  it('knows that local and tar outputs leave no image, and where image outputs push', async () => {
    expect((await map({ outputs: 'type=local,dest=out' })).exportsImage).toBe(false);
    const pushed = await map({ tags: 't:1', outputs: 'type=registry,name=r/x:1' });
    expect(pushed.pushTo).toEqual(['r/x:1']);
  });

  it('passes several platforms on as one --platform list (a multi-platform build)', async () => {
    expect((await map({ platforms: 'linux/amd64,linux/arm64' })).options.platform).toBe(
      'linux/amd64,linux/arm64',
    );
  });

  it('refuses what tbuild cannot do, naming the input', async () => {
    const refused: Array<[Record<string, string>, RegExp]> = [
      [
        { 'cache-to': 'type=registry,mode=all' },
        /input "cache-to": --cache-to type=registry needs ref=/,
      ],
      [{ annotations: 'a=b' }, /input "annotations"/],
      [{ attests: 'type=sbom' }, /input "attests"/],
      [{ sbom: 'true' }, /input "sbom"/],
      [{ allow: 'network.hots' }, /input "allow": invalid --allow "network.hots"/],
      [{ call: 'check' }, /input "call"/],
      [{ 'cgroup-parent': '/x' }, /input "cgroup-parent"/],
      [{ 'shm-size': 'lots' }, /input "shm-size": invalid --shm-size "lots"/],
      [{ outputs: 'type=bogus,dest=x' }, /input "outputs": unknown output type "bogus"/],
    ];
    for (const [inputs, message] of refused) await expect(map(inputs)).rejects.toThrow(message);
    await expect(
      map({ provenance: 'false', sbom: 'false', allow: 'network.host' }),
    ).resolves.toBeDefined();
    expect((await map({ allow: 'network.host\nsecurity.insecure' })).options.allow).toEqual([
      'network.host',
      'security.insecure',
    ]);
    expect((await map({ builder: 'builder-1' })).warnings[0]).toMatch(
      /input "builder" \(builder-1\) has no effect/,
    );
  });
});

describe('the default Git context', () => {
  it('pins the event commit, as actions-toolkit does', async () => {
    expect(
      await defaultGitContext({
        GITHUB_REPOSITORY: 'o/r',
        GITHUB_SHA: 'abc',
        GITHUB_REF: 'refs/heads/main',
      }),
    ).toBe('https://github.com/o/r.git#abc');
    expect(
      await defaultGitContext({
        GITHUB_SERVER_URL: 'https://ghe.example',
        GITHUB_REPOSITORY: 'o/r',
        GITHUB_REF: 'main',
      }),
    ).toBe('https://ghe.example/o/r.git#refs/heads/main');
    expect(expandDefaultContext('{{defaultContext}}:app', 'g#1')).toBe('g#1:app');
  });

  it('authenticates git with the token through GIT_CONFIG_* variables, after existing ones', () => {
    expect(gitAuthEnv('tok', { GIT_CONFIG_COUNT: '1' })).toEqual({
      GIT_CONFIG_COUNT: '2',
      GIT_CONFIG_KEY_1: 'http.https://github.com/.extraheader',
      GIT_CONFIG_VALUE_1: `AUTHORIZATION: basic ${Buffer.from('x-access-token:tok').toString('base64')}`,
    });
  });
});

describe('annotation targets', () => {
  it('name the Dockerfile relative to the workspace, or inside the default Git context', () => {
    const local = annotationTarget({ file: '' }, 'app', DEFAULT, '/ws', '/ws');
    expect(local).toEqual({ dockerfileName: 'Dockerfile', repoPath: 'app/Dockerfile' });
    expect(fileFor(local, { range: { start: 3, end: 4 } })).toBe('app/Dockerfile');
    expect(fileFor(local, { file: 'other', range: { start: 1, end: 1 } })).toBeUndefined();
    expect(
      annotationTarget({ file: 'd/Dockerfile' }, `${DEFAULT}:sub`, DEFAULT, '/ws', '/ws'),
    ).toEqual({
      dockerfileName: 'd/Dockerfile',
      repoPath: 'sub/d/Dockerfile',
    });
    expect(
      annotationTarget({ file: '' }, 'https://github.com/x/y.git#main', DEFAULT, '/ws', '/ws')
        .repoPath,
    ).toBeUndefined();
    expect(
      annotationTarget({ file: '/elsewhere/Dockerfile' }, '.', DEFAULT, '/ws', '/ws').repoPath,
    ).toBeUndefined();
  });
});
