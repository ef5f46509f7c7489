import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveBuildOptions } from './options.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tbuild-options-'));
  await mkdir(path.join(dir, 'ctx'));
  await writeFile(path.join(dir, 'ctx/Dockerfile'), 'FROM scratch\n');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const resolve = (options: Parameters<typeof resolveBuildOptions>[0], env = {}) =>
  resolveBuildOptions(options, { cwd: dir, env });

describe('resolving build options', () => {
  it('reads the context Dockerfile, relative to the run cwd, and names it as docker does', async () => {
    const o = await resolve({ context: 'ctx' });
    expect(o.contextDir).toBe(path.join(dir, 'ctx'));
    expect(o.dockerfileText).toBe('FROM scratch\n');
    expect(o.dockerfileName).toBe('Dockerfile');
    expect(o.network).toBe('default');
    expect(o.outputs).toEqual([]);
  });

  it('refuses --network=host without the network.host entitlement (exit 125), and unknown ones', async () => {
    const refused = await resolve({ context: 'ctx', network: 'host' }).catch((e: unknown) => e);
    expect(refused).toMatchObject({
      code: 'TBUILD_USAGE',
      exitCode: 125,
      message: '--network=host needs the network.host entitlement',
      hint: expect.stringContaining('--allow network.host'),
    });
    const granted = await resolve({ context: 'ctx', network: 'host', allow: ['network.host'] });
    expect(granted).toMatchObject({ network: 'host', allow: ['network.host'] });
    await expect(
      resolve({ context: 'ctx', allow: ['network.hots' as 'network.host'] }),
    ).rejects.toMatchObject({ code: 'TBUILD_USAGE', message: 'invalid --allow "network.hots"' });
  });

  it('takes -f from the cwd and names it as given, and Dockerfile text given inline', async () => {
    await writeFile(path.join(dir, 'other.Dockerfile'), 'FROM busybox\n');
    const o = await resolve({ context: 'ctx', file: 'other.Dockerfile' });
    expect(o.dockerfileText).toBe('FROM busybox\n');
    expect(o.dockerfileName).toBe('other.Dockerfile');
    const inline = await resolve({ context: 'ctx', dockerfile: 'FROM inline\n' });
    expect(inline.dockerfileText).toBe('FROM inline\n');
  });

  it('prefers <Dockerfile>.dockerignore to the context .dockerignore', async () => {
    await writeFile(path.join(dir, 'ctx/.dockerignore'), 'context-rule\n');
    expect((await resolve({ context: 'ctx' })).dockerignoreText).toBe('context-rule\n');
    await writeFile(path.join(dir, 'ctx/Dockerfile.dockerignore'), 'file-rule\n');
    expect((await resolve({ context: 'ctx' })).dockerignoreText).toBe('file-rule\n');
  });

  it('reads a Dockerfile from the run stdin, and says so when there is none', async () => {
    const o = await resolveBuildOptions(
      { context: 'ctx', file: '-' },
      { cwd: dir, stdin: Readable.from([Buffer.from('FROM stdin\n')]) },
    );
    expect(o.dockerfileText).toBe('FROM stdin\n');
    await expect(resolve({ context: 'ctx', file: '-' })).rejects.toThrow(/no standard input/);
  });

  it('fails clearly for a missing context or Dockerfile', async () => {
    await expect(resolve({ context: 'nope' })).rejects.toThrow(/path "nope" not found/);
    await expect(resolve({ context: 'ctx', file: 'missing' })).rejects.toMatchObject({
      hint: 'Check the path given with -f.',
    });
  });

  it('fills unnamed image outputs from the tags and merges push into them', async () => {
    const o = await resolve({
      context: 'ctx',
      tags: ['r/app:1'],
      push: true,
      outputs: [
        { type: 'docker', dest: 'x.tar', names: [], push: false, attrs: {} },
        { type: 'oci', dest: 'o.tar', names: [], push: false, attrs: {} },
        { type: 'tar', dest: 'f.tar', names: [], push: false, attrs: {} },
      ],
    });
    expect(o.outputs).toEqual([
      { type: 'docker', dest: 'x.tar', names: ['r/app:1'], push: false, attrs: {} },
      { type: 'oci', dest: 'o.tar', names: ['r/app:1'], push: false, attrs: {} },
      { type: 'tar', dest: 'f.tar', names: [], push: false, attrs: {} },
      { type: 'image', names: ['r/app:1'], push: true, attrs: {} },
    ]);
    await expect(resolve({ context: 'ctx', push: true })).rejects.toThrow(
      /--push needs an image name/,
    );
    await expect(
      resolve({
        context: 'ctx',
        outputs: [{ type: 'image', names: [], push: false, attrs: {} }],
      }),
    ).rejects.toThrow(/needs name=/);
  });

  it('resolves secret files against the cwd and reads env secrets from the run env only', async () => {
    const o = await resolve(
      {
        context: 'ctx',
        secrets: [
          { id: 'f', file: 'token' },
          { id: 'e', env: 'TOKEN' },
          { id: 'missing', env: 'NOT_SET' },
        ],
      },
      { TOKEN: 's3cret' },
    );
    expect(o.secrets).toEqual([
      { id: 'f', file: path.join(dir, 'token') },
      { id: 'e', value: 's3cret' },
      { id: 'missing' },
    ]);
  });

  it('takes SOURCE_DATE_EPOCH from a build arg before the env, and checks it', async () => {
    expect((await resolve({ context: 'ctx' }, { SOURCE_DATE_EPOCH: '100' })).sourceDateEpoch).toBe(
      100,
    );
    expect(
      (
        await resolve(
          { context: 'ctx', buildArgs: { SOURCE_DATE_EPOCH: '7' } },
          { SOURCE_DATE_EPOCH: '100' },
        )
      ).sourceDateEpoch,
    ).toBe(7);
    await expect(resolve({ context: 'ctx' }, { SOURCE_DATE_EPOCH: 'soon' })).rejects.toThrow(
      /invalid SOURCE_DATE_EPOCH/,
    );
  });

  it('checks the network mode and named contexts', async () => {
    await expect(
      resolve({ context: 'ctx', network: 'bridge' as unknown as 'host' }),
    ).rejects.toThrow(/invalid --network "bridge"/);
    await mkdir(path.join(dir, 'lib'));
    const o = await resolve({
      context: 'ctx',
      buildContexts: { lib: 'lib', base: 'docker-image://busybox:1' },
    });
    expect(o.namedContexts).toEqual({
      lib: { type: 'local', source: 'named:lib', dir: path.join(dir, 'lib') },
      base: { type: 'image', ref: 'busybox:1' },
    });
    await expect(resolve({ context: 'ctx', buildContexts: { x: 'nodir' } })).rejects.toThrow(
      /nodir is not a directory/,
    );
  });

  it('returns a frozen object', async () => {
    const o = await resolve({ context: 'ctx' });
    expect(Object.isFrozen(o)).toBe(true);
  });
});
