import { describe, expect, it } from 'vitest';
import { parseBuildFlags } from './flags.ts';

describe('tbuild build flags', () => {
  it('become typed build options', async () => {
    const { options } = await parseBuildFlags(
      {
        context: 'app',
        tag: ['a:1'],
        buildArg: ['X=1', 'FROM_ENV'],
        output: ['type=docker,dest=a.tar'],
        secret: ['id=t,env=TOKEN'],
        addHost: ['db:10.0.0.1'],
        shmSize: '1g',
        ulimit: ['nofile=1:2'],
        label: ['k=v'],
        buildContext: ['lib=../lib'],
        network: 'none',
      },
      { FROM_ENV: 'e' },
    );
    expect(options).toMatchObject({
      context: 'app',
      tags: ['a:1'],
      buildArgs: { X: '1', FROM_ENV: 'e' },
      outputs: [{ type: 'docker', dest: 'a.tar', names: [], push: false, attrs: {} }],
      secrets: [{ id: 't', env: 'TOKEN' }],
      extraHosts: [{ host: 'db', ip: '10.0.0.1' }],
      shmSize: 1024 ** 3,
      ulimits: [{ name: 'nofile', soft: 1, hard: 2 }],
      labels: { k: 'v' },
      buildContexts: { lib: '../lib' },
      network: 'none',
    });
  });

  it('keep what only the CLI uses apart: progress, quiet, the store, warnings', async () => {
    const { settings } = await parseBuildFlags(
      { quiet: true, root: '/s', maxParallelism: 3, ignored: ['memory'], sbom: 'false' },
      {},
    );
    expect(settings).toMatchObject({
      progress: 'quiet',
      quiet: true,
      root: '/s',
      maxParallelism: 3,
    });
    expect(settings.warnings).toEqual([
      "--memory is ignored: it applies to docker's legacy builder, not to BuildKit or tbuild",
    ]);
  });

  it('refuse attestations they cannot make, and accept them turned off', async () => {
    await expect(parseBuildFlags({ sbom: 'true' }, {})).rejects.toThrow(
      '--sbom=true: tbuild does not make SBOM attestations yet',
    );
    await expect(parseBuildFlags({ provenance: 'mode=max' }, {})).rejects.toThrow(
      '--provenance=mode=max: tbuild does not make provenance attestations yet',
    );
    for (const off of ['false', '0', 'disabled=true'])
      await expect(parseBuildFlags({ provenance: off, sbom: off }, {})).resolves.toBeDefined();
  });

  it('take the progress mode and the store from the environment', async () => {
    const { settings } = await parseBuildFlags(
      {},
      { BUILDKIT_PROGRESS: 'plain', TBUILD_ROOT: '/r' },
    );
    expect(settings).toMatchObject({ progress: 'plain', root: '/r' });
    await expect(parseBuildFlags({ progress: 'fancy' }, {})).rejects.toThrow(
      /invalid --progress value "fancy"/,
    );
    // A bad value from the environment names the variable, not a flag nobody typed.
    await expect(parseBuildFlags({}, { BUILDKIT_PROGRESS: 'fancy' })).rejects.toThrow(
      'invalid BUILDKIT_PROGRESS value "fancy"',
    );
    await expect(parseBuildFlags({}, { TBUILD_PROGRESS: 'Fancy' })).rejects.toThrow(
      'invalid TBUILD_PROGRESS value "Fancy"',
    );
    await expect(
      parseBuildFlags({ progress: 'plain' }, { BUILDKIT_PROGRESS: 'fancy' }),
    ).resolves.toBeDefined();
    await expect(parseBuildFlags({ format: 'yaml' }, {})).rejects.toThrow(/invalid --format/);
  });
});
