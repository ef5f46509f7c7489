/**
 * Multi-platform builds end to end: a linux/amd64 + linux/arm64 busybox index in a real
 * loopback registry (made from Debian's busybox-static for both), real runc, and RUN steps
 * for arm64 under real QEMU user emulation (qemu-user-static; scripts/setup.sh installs it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, makeContext, useBuildStore } from '../helpers/build-harness.ts';
import { pushMultiArchBusybox } from '../helpers/multiarch-base.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';

const dirs = useBuildStore();
let registry: TestRegistry;
let base: string;

beforeAll(async () => {
  registry = await startRegistry();
  base = `${registry.host}/busybox:multi`;
  await pushMultiArchBusybox(base);
}, 120_000);
afterAll(async () => {
  await registry?.stop();
});

const PLATFORMS = ['--platform', 'linux/amd64,linux/arm64'];

function skopeoRaw(ref: string): { manifests: Array<{ platform: { architecture: string } }> } {
  return JSON.parse(
    execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], {
      encoding: 'utf8',
    }),
  ) as { manifests: Array<{ platform: { architecture: string } }> };
}

describe('tbuild build --platform linux/amd64,linux/arm64', () => {
  it('runs RUN natively for amd64 and under QEMU for arm64, one directory per platform', async () => {
    const context = await makeContext({
      Dockerfile: `FROM ${base}\nRUN uname -m > /arch\n`,
    });
    const out = path.join(dirs.scratch, 'files');
    const result = await build(dirs.store, context, [...PLATFORMS, '-o', `type=local,dest=${out}`]);
    expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['linux_amd64', 'linux_arm64']);
    expect(readFileSync(path.join(out, 'linux_amd64/arch'), 'utf8')).toBe('x86_64\n');
    expect(readFileSync(path.join(out, 'linux_arm64/arch'), 'utf8')).toBe('aarch64\n');
    // BuildKit's titles: each step carries its stage's platform.
    expect(result.ran).toEqual(
      expect.arrayContaining([
        '[linux/amd64 2/2] RUN uname -m > /arch',
        '[linux/arm64 2/2] RUN uname -m > /arch',
      ]),
    );
  });

  it('pushes one index listing both platforms, and keeps it as one image in the store', async () => {
    const context = await makeContext({
      Dockerfile: `FROM ${base}\nARG TARGETARCH\nRUN echo "$TARGETARCH" > /target\n`,
    });
    const ref = `${registry.host}/app:multi`;
    const result = await build(dirs.store, context, [...PLATFORMS, '-t', ref, '--push']);
    expect(result.code, result.stderr).toBe(0);
    const index = skopeoRaw(ref);
    expect(index.manifests.map((m) => m.platform.architecture)).toEqual(['amd64', 'arm64']);

    const images = await runTbuild([
      'images',
      '--root',
      dirs.store,
      '--format',
      '{{.Repository}}:{{.Tag}}',
    ]);
    expect(images.stdout.split('\n').filter((l) => l.includes('app'))).toEqual([
      `${registry.host}/app:multi`,
    ]);
    expect(images.stdout).not.toContain('<none>');
    const inspect = await runTbuild(['inspect', '--root', dirs.store, ref]);
    const [info] = JSON.parse(inspect.stdout) as Array<{ Manifests: Array<{ Platform: string }> }>;
    expect(info!.Manifests.map((m) => m.Platform)).toEqual(['linux/amd64', 'linux/arm64']);
  });

  // `cat` in busybox's shell re-executes busybox as `cat`: under QEMU that needs binfmt's P
  // flag (preserve argv[0]), else the applet runs as `sh` and executes /target.
  it('takes a stored index as a base, per platform, and keys the cache per platform', async () => {
    const context = await makeContext({
      Dockerfile: `FROM ${registry.host}/app:multi\nRUN cat /target > /from-base && uname -m >> /from-base\n`,
    });
    const out = path.join(dirs.scratch, 'from-index');
    const first = await build(dirs.store, context, [
      '--platform',
      'linux/arm64',
      '-o',
      `type=local,dest=${out}`,
    ]);
    expect(first.code, first.stderr).toBe(0);
    expect(readFileSync(path.join(out, 'from-base'), 'utf8')).toBe('arm64\naarch64\n');
    // The same step for amd64 is another step: it runs, and gives amd64's answer.
    const second = await build(dirs.store, context, ['-o', `type=local,dest=${out}-amd64`]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.ran.some((n) => n.includes('RUN cat /target'))).toBe(true);
    expect(readFileSync(path.join(`${out}-amd64`, 'from-base'), 'utf8')).toBe('amd64\nx86_64\n');
    const again = await build(dirs.store, context, ['--platform', 'linux/arm64']);
    expect(again.cached.some((n) => n.includes('RUN cat /target'))).toBe(true);
  });

  it('writes a docker archive as Docker 25+ does for an index: index.json, and manifest.json for this machine', async () => {
    const context = await makeContext({ Dockerfile: `FROM ${base}\nRUN uname -m > /arch\n` });
    const tar = path.join(dirs.scratch, 'multi-docker.tar');
    const result = await build(dirs.store, context, [
      ...PLATFORMS,
      '-o',
      `type=docker,dest=${tar},name=app:docker`,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const read = (file: string) =>
      JSON.parse(execFileSync('tar', ['-xOf', tar, file], { encoding: 'utf8' })) as never;
    const top = read('index.json') as {
      manifests: Array<{ digest: string; annotations: Record<string, string> }>;
    };
    expect(top.manifests).toHaveLength(1);
    expect(top.manifests[0]!.annotations['io.containerd.image.name']).toBe(
      'docker.io/library/app:docker',
    );
    const index = read(`blobs/sha256/${top.manifests[0]!.digest.slice(7)}`) as {
      manifests: Array<{ platform: { architecture: string } }>;
    };
    expect(index.manifests.map((m) => m.platform.architecture)).toEqual(['amd64', 'arm64']);
    const [entry] = read('manifest.json') as Array<{ Config: string; RepoTags: string[] }>;
    expect(entry!.RepoTags).toEqual(['app:docker']);
    expect((read(entry!.Config) as { architecture: string }).architecture).toBe('amd64');
  });

  it('writes an OCI layout that skopeo copies whole and umoci reads', async () => {
    const context = await makeContext({ Dockerfile: `FROM ${base}\nRUN uname -m > /arch\n` });
    const tar = path.join(dirs.scratch, 'multi-oci.tar');
    const result = await build(dirs.store, context, [
      ...PLATFORMS,
      '-o',
      `type=oci,dest=${tar},name=app:oci`,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const layout = path.join(dirs.scratch, 'multi-oci');
    mkdirSync(layout, { recursive: true });
    execFileSync('tar', ['-xf', tar, '-C', layout]);
    const copy = path.join(dirs.scratch, 'multi-oci-copy');
    execFileSync('skopeo', ['copy', '--all', `oci:${layout}:oci`, `oci:${copy}:oci`]);
    const copied = JSON.parse(
      execFileSync('skopeo', ['inspect', '--raw', `oci:${copy}:oci`], { encoding: 'utf8' }),
    ) as { manifests: Array<{ platform: { architecture: string } }> };
    expect(copied.manifests.map((m) => m.platform.architecture)).toEqual(['amd64', 'arm64']);
    // umoci 0.4 lists and garbage-collects the layout (every blob reachable, none missing);
    // it unpacks only single-manifest tags, so it is not asked to unpack this one.
    expect(execFileSync('umoci', ['ls', '--layout', layout], { encoding: 'utf8' }).trim()).toBe(
      'oci',
    );
    execFileSync('umoci', ['gc', '--layout', layout]);
    expect(readdirSync(path.join(layout, 'blobs/sha256')).length).toBe(
      readdirSync(path.join(dirs.scratch, 'multi-oci-copy/blobs/sha256')).length,
    );
  });

  it('runs a cross-compiling stage once, natively, for both targets', async () => {
    const context = await makeContext({
      Dockerfile: [
        `FROM --platform=$BUILDPLATFORM ${base} AS build`,
        'RUN uname -m > /build-arch',
        'ARG TARGETARCH',
        'RUN echo "built on $(uname -m) for $TARGETARCH" > /out',
        `FROM ${base}`,
        'COPY --from=build /out /out',
        'COPY --from=build /build-arch /build-arch',
        '',
      ].join('\n'),
    });
    const out = path.join(dirs.scratch, 'cross');
    const result = await build(dirs.store, context, [...PLATFORMS, '-o', `type=local,dest=${out}`]);
    expect(result.code, result.stderr).toBe(0);
    for (const [dir, arch] of [
      ['linux_amd64', 'amd64'],
      ['linux_arm64', 'arm64'],
    ] as const)
      expect(readFileSync(path.join(out, dir, 'out'), 'utf8')).toBe(
        `built on x86_64 for ${arch}\n`,
      );
    expect(readFileSync(path.join(out, 'linux_arm64/build-arch'), 'utf8')).toBe('x86_64\n');
    // The build stage's steps before ARG TARGETARCH are one graph node for both targets.
    expect(result.ran.filter((name) => name.endsWith('RUN uname -m > /build-arch'))).toEqual([
      '[linux/amd64 build 2/3] RUN uname -m > /build-arch',
    ]);
    expect(result.ran.filter((name) => name.includes('RUN echo "built on'))).toHaveLength(2);
  });

  it('refuses --load of several platforms before any work, saying what the daemon takes', async () => {
    const context = await makeContext({ Dockerfile: `FROM ${base}\nRUN touch /x\n` });
    const result = await build(dirs.store, context, [...PLATFORMS, '--load']);
    expect(result.code).toBe(125);
    expect(result.stderr).toContain('--load cannot take 2 platforms');
    expect(result.ran).toEqual([]);
  });
});

describe('platform values tbuild refuses', () => {
  it.each(['linux/amd64,', 'amd64,linux', 'linux/nosucharch', 'windows/amd64'])(
    '%s fails as a usage error and writes no image',
    async (value) => {
      const context = await makeContext({ Dockerfile: `FROM ${base}\n` });
      const iid = path.join(dirs.scratch, `iid-${value.replace(/\W/g, '_')}`);
      const before = await runTbuild(['images', '--root', dirs.store, '-q', '--no-trunc']);
      const result = await build(dirs.store, context, [
        '--platform',
        value,
        '-t',
        'refused:1',
        '--iidfile',
        iid,
      ]);
      expect(result.code).toBe(125);
      expect(result.stderr).toMatch(/invalid platform/);
      expect(existsSync(iid)).toBe(false);
      const after = await runTbuild(['images', '--root', dirs.store, '-q', '--no-trunc']);
      expect(after.stdout).toBe(before.stdout);
    },
  );
});
