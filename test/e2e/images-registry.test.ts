/**
 * Images to and from a real registry (Debian's docker-registry on loopback): `tbuild push`,
 * `tbuild pull` into a fresh store, builds on a base that only the registry has, and
 * `build --push` / `-o type=image,push=true` with the digest files a CI job reads.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBusyboxImage, BUSYBOX_REF } from '../helpers/base-images.ts';
import { build, makeContext } from '../helpers/build-harness.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';

const run = promisify(execFile);

let registry: TestRegistry;
let work: string;
let store: string;
let appContext: string;

/** What skopeo sees in the registry: the manifest digest and layer digests. */
async function skopeoInspect(ref: string): Promise<{ Digest: string; Layers: string[] }> {
  const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`]);
  return JSON.parse(stdout) as { Digest: string; Layers: string[] };
}

interface RawManifest {
  mediaType: string;
  config: { mediaType: string; digest: string };
  layers: { mediaType: string; digest: string }[];
}

/** The manifest as the registry serves it. */
async function skopeoRaw(ref: string): Promise<RawManifest> {
  const { stdout } = await run('skopeo', [
    'inspect',
    '--tls-verify=false',
    '--raw',
    `docker://${ref}`,
  ]);
  return JSON.parse(stdout) as RawManifest;
}

function expectOk(result: { code: number | null; stderr: string }): void {
  expect(result.stderr && result.code !== 0 ? result.stderr : '').toBe('');
  expect(result.code).toBe(0);
}

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'tbuild-e2e-images-registry-'));
  store = join(work, 'store');
  await ensureBusyboxImage(store);
  appContext = await makeContext({
    Dockerfile: `FROM ${BUSYBOX_REF}\nRUN echo one > /one\nCMD ["cat", "/one"]\n`,
  });
}, 60_000);

afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
  if (appContext) await rm(appContext, { recursive: true, force: true });
});

describe('tbuild push and pull', () => {
  it('pushes a built image, pulls it into a fresh store and builds on it', async () => {
    const app = `${registry.host}/app:1`;
    expectOk(await build(store, appContext, ['-t', app]));

    const pushed = await runTbuild(['push', '--root', store, app]);
    expectOk(pushed);
    const digest = /^1: digest: (sha256:[0-9a-f]{64}) size: \d+$/m.exec(pushed.stdout)?.[1];
    expect(pushed.stdout).toContain(`The push refers to repository [${registry.host}/app]`);
    expect(pushed.stdout).toMatch(/^[0-9a-f]{12}: Pushed$/m);
    expect(digest).toBe((await skopeoInspect(app)).Digest);

    const fresh = join(work, 'fresh');
    const pulled = await runTbuild(['pull', '--root', fresh, app]);
    expectOk(pulled);
    expect(pulled.stdout).toBe(
      `Digest: ${digest}\nStatus: Downloaded newer image for ${app}\n${app}\n`,
    );
    expect(pulled.stderr).toMatch(/^[0-9a-f]{12}: Pull complete$/m);
    const again = await runTbuild(['pull', '--root', fresh, app]);
    expect(again.stdout).toContain(`Status: Image is up to date for ${app}`);
    expect(again.stderr).toMatch(/^[0-9a-f]{12}: Already exists$/m);
    const listed = await runTbuild(['images', '--root', fresh, '--format', 'json']);
    expect(JSON.parse(listed.stdout)).toMatchObject({
      Repository: `${registry.host}/app`,
      Tag: '1',
    });

    // A third store has never seen the image: FROM fetches it from the registry.
    const downstream = await makeContext({ Dockerfile: `FROM ${app}\nRUN cat /one > /two\n` });
    const out = join(work, 'out');
    const built = await build(join(work, 'third'), downstream, ['-o', `type=local,dest=${out}`]);
    await rm(downstream, { recursive: true, force: true });
    expectOk(built);
    expect(await readFile(join(out, 'two'), 'utf8')).toBe('one\n');
  }, 120_000);

  it('pushes an image whose layer blob was removed, writing it again from the snapshot', async () => {
    const app = `${registry.host}/app:rewritten`;
    expectOk(await build(store, appContext, ['-t', app]));
    const inspected = await runTbuild([
      'inspect',
      '--root',
      store,
      '-f',
      '{{json .Manifest.layers}}',
      app,
    ]);
    const layers = JSON.parse(inspected.stdout) as { digest: string }[];
    const top = layers.at(-1)!.digest;
    // A built layer has no blob until a push or an archive needs it (ADR 12); one made
    // earlier may have been pruned: either way the push writes it from the snapshot.
    await rm(join(store, 'blobs/sha256', top.slice('sha256:'.length)), { force: true });
    const pushed = await runTbuild(['push', '--root', store, app]);
    expectOk(pushed);
    const remote = await skopeoInspect(app);
    expect(remote.Layers).toHaveLength(layers.length);
    expect(pushed.stdout).toContain(`rewritten: digest: ${remote.Digest}`);
  }, 60_000);

  it('fails to push an image the store does not have, and says how to make it', async () => {
    const result = await runTbuild(['push', '--root', store, `${registry.host}/nothing:1`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`no such image: ${registry.host}/nothing:1`);
    expect(result.stderr).toContain('hint: Build it with `tbuild build -t NAME .`');
  });

  it('fails to pull a tag the registry does not have', async () => {
    const result = await runTbuild(['pull', '--root', store, `${registry.host}/app:missing`]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/ERROR: .*app:missing/);
  });
});

describe('build outputs to a registry', () => {
  it('--push puts the image in the registry; --iidfile and --metadata-file name it', async () => {
    const app = `${registry.host}/app:2`;
    const iidfile = join(work, 'iid');
    const metadataFile = join(work, 'metadata.json');
    const result = await build(store, appContext, [
      '--push',
      '-t',
      app,
      '--iidfile',
      iidfile,
      '--metadata-file',
      metadataFile,
    ]);
    expectOk(result);
    const metadata = JSON.parse(await readFile(metadataFile, 'utf8')) as Record<string, unknown>;
    const remote = await skopeoInspect(app);
    expect(metadata['containerimage.digest']).toBe(remote.Digest);
    expect(metadata['image.name']).toBe(app);
    const iid = await readFile(iidfile, 'utf8');
    expect(iid).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(metadata['containerimage.config.digest']).toBe(iid);
    const { stdout: config } = await run('skopeo', [
      'inspect',
      '--tls-verify=false',
      '--raw',
      `docker://${app}`,
    ]);
    expect((JSON.parse(config) as { config: { digest: string } }).config.digest).toBe(iid);
  }, 60_000);

  it('-o type=image,name=…,push=true pushes under that name', async () => {
    const app = `${registry.host}/app:3`;
    expectOk(await build(store, appContext, ['-o', `type=image,name=${app},push=true`]));
    const remote = await skopeoInspect(app);
    expect(remote.Layers).toHaveLength(2);
    expect(remote.Layers).toEqual((await skopeoInspect(`${registry.host}/app:2`)).Layers);
  }, 60_000);

  it('pushes zstd layers under OCI media types for compression=zstd; pulled base layers stay gzip unless forced', async () => {
    // A base that comes from the registry (gzip), in a store of its own.
    const base = `${registry.host}/zstd-base:1`;
    expectOk(await build(store, appContext, ['-o', `type=registry,name=${base}`]));
    const pulling = join(work, 'zstd-store');
    expectOk(await runTbuild(['pull', '--root', pulling, base]));
    const child = await makeContext({ Dockerfile: `FROM ${base}\nRUN echo two > /two\n` });
    try {
      const app = `${registry.host}/app:zstd`;
      const metadataFile = join(work, 'zstd.json');
      const iidfile = join(work, 'zstd.iid');
      expectOk(
        await build(pulling, child, [
          '-o',
          `type=registry,name=${app},compression=zstd`,
          '--metadata-file',
          metadataFile,
          '--iidfile',
          iidfile,
        ]),
      );
      const raw = await skopeoRaw(app);
      expect(raw.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
      expect(raw.config.mediaType).toBe('application/vnd.oci.image.config.v1+json');
      // As BuildKit: the pulled base layers keep their gzip blobs without force-compression.
      expect(raw.layers.map((l) => l.mediaType)).toEqual([
        'application/vnd.oci.image.layer.v1.tar+gzip',
        'application/vnd.oci.image.layer.v1.tar+gzip',
        'application/vnd.oci.image.layer.v1.tar+zstd',
      ]);
      const metadata = JSON.parse(await readFile(metadataFile, 'utf8')) as Record<string, unknown>;
      expect(metadata['containerimage.digest']).toBe((await skopeoInspect(app)).Digest);
      // The image ID is the config's digest, whatever the layers' compression.
      expect(raw.config.digest).toBe(await readFile(iidfile, 'utf8'));

      const forced = `${registry.host}/app:zstd-forced`;
      expectOk(
        await build(pulling, child, [
          '-o',
          `type=image,name=${forced},push=true,compression=zstd,compression-level=19,force-compression=true`,
        ]),
      );
      const all = await skopeoRaw(forced);
      expect(new Set(all.layers.map((l) => l.mediaType))).toEqual(
        new Set(['application/vnd.oci.image.layer.v1.tar+zstd']),
      );
      expect(all.config.digest).toBe(raw.config.digest);
      // skopeo checks every blob's digest while it copies, and decompresses the zstd layers
      // (Debian's umoci reads no zstd).
      const copied = join(work, 'zstd-copy');
      await run('skopeo', [
        'copy',
        '--src-tls-verify=false',
        '--dest-decompress',
        `docker://${forced}`,
        `dir:${copied}`,
      ]);
      const copiedManifest = JSON.parse(
        await readFile(join(copied, 'manifest.json'), 'utf8'),
      ) as RawManifest;
      const top = copiedManifest.layers.at(-1)!.digest.slice('sha256:'.length);
      const { stdout } = await run('tar', ['-xOf', join(copied, top), 'two']);
      expect(stdout).toBe('two\n');
    } finally {
      await rm(child, { recursive: true, force: true });
    }
  }, 120_000);

  it('pushes gzip layers under OCI media types for oci-mediatypes=true', async () => {
    const app = `${registry.host}/app:oci`;
    expectOk(
      await build(store, appContext, [
        '-o',
        `type=image,name=${app},push=true,oci-mediatypes=true`,
      ]),
    );
    const raw = await skopeoRaw(app);
    expect(raw.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(new Set(raw.layers.map((l) => l.mediaType))).toEqual(
      new Set(['application/vnd.oci.image.layer.v1.tar+gzip']),
    );
  }, 60_000);

  it('refuses an output attribute it does not know, before building', async () => {
    const result = await build(store, appContext, [
      '-o',
      `type=registry,name=${registry.host}/app:unknown,compresion=zstd`,
    ]);
    expect(result.code).toBe(125);
    expect(result.stderr).toContain('does not take the attribute "compresion"');
  });
});
