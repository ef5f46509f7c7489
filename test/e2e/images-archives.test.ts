/**
 * Images in and out of archives: `tbuild save` read by skopeo (docker-archive and
 * oci-archive), `tbuild load` of tbuild's own archives and of skopeo's (a third-party
 * writer), `docker load`/`docker run` when a daemon answers, and the inspect and history
 * views of a loaded image.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_REF, ensureBusyboxImage } from '../helpers/base-images.ts';
import { build, makeContext } from '../helpers/build-harness.ts';
import { runTbuild, TBUILD_BIN } from '../helpers/run-tbuild.ts';

const run = promisify(execFile);
const APP = 'tbuild-e2e-images/app:1';

let work: string;
let store: string;
let context: string;
let archive: string;

interface SkopeoImage {
  Architecture: string;
  Layers: string[];
  Labels: Record<string, string> | null;
}

async function skopeoInspect(transport: string): Promise<SkopeoImage> {
  const { stdout } = await run('skopeo', ['inspect', transport]);
  return JSON.parse(stdout) as SkopeoImage;
}

function expectOk(result: { code: number | null; stderr: string }): void {
  expect(result.code === 0 ? '' : result.stderr).toBe('');
}

/** Build FROM `image` in `root` and return the file the RUN step wrote. */
async function buildOn(root: string, image: string): Promise<string> {
  const ctx = await makeContext({ Dockerfile: `FROM ${image}\nRUN cat /greeting > /copy\n` });
  const out = join(work, `out-${Math.random().toString(36).slice(2)}`);
  try {
    expectOk(await build(root, ctx, ['-o', `type=local,dest=${out}`]));
    return await readFile(join(out, 'copy'), 'utf8');
  } finally {
    await rm(ctx, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tbuild-e2e-images-archives-'));
  store = join(work, 'store');
  await ensureBusyboxImage(store);
  context = await makeContext({
    Dockerfile: `FROM ${BUSYBOX_REF}\nLABEL purpose=e2e\nRUN echo hello > /greeting\nCMD ["cat", "/greeting"]\n`,
  });
  expectOk(await build(store, context, ['-t', APP]));
  archive = join(work, 'app.tar');
  expectOk(await runTbuild(['save', '--root', store, '-o', archive, APP]));
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
  if (context) await rm(context, { recursive: true, force: true });
});

describe('tbuild save', () => {
  it('writes a docker archive that skopeo reads', async () => {
    const image = await skopeoInspect(`docker-archive:${archive}`);
    expect(image.Layers).toHaveLength(2);
    expect(image.Labels).toEqual({ purpose: 'e2e' });
  });

  it('writes an OCI archive to stdout with --format oci', async () => {
    const file = join(work, 'app-oci.tar');
    await run('bash', [
      '-c',
      `node "$0" save --root "$1" --format oci "$2" > "$3"`,
      TBUILD_BIN,
      store,
      APP,
      file,
    ]);
    const image = await skopeoInspect(`oci-archive:${file}`);
    expect(image.Layers).toHaveLength(2);
    const { stdout } = await run('tar', ['-xOf', file, 'index.json']);
    const index = JSON.parse(stdout) as {
      manifests: { mediaType: string; annotations: Record<string, string> }[];
    };
    expect(index.manifests).toEqual([
      expect.objectContaining({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        annotations: {
          'io.containerd.image.name': `docker.io/${APP}`,
          'org.opencontainers.image.ref.name': '1',
        },
      }),
    ]);
  });

  it('refuses an image the store does not have', async () => {
    const result = await runTbuild(['save', '--root', store, '-o', join(work, 'x.tar'), 'nope:1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no such image: nope:1');
  });
});

describe('tbuild load', () => {
  it('loads a saved archive into a fresh store that then lists it and builds on it', async () => {
    const fresh = join(work, 'loaded');
    const loaded = await runTbuild(['load', '--root', fresh, '-i', archive]);
    expectOk(loaded);
    expect(loaded.stdout).toBe(`Loaded image: ${APP}\n`);
    const listed = await runTbuild(['images', '--root', fresh, '--format', 'json']);
    expect(JSON.parse(listed.stdout)).toMatchObject({
      Repository: 'tbuild-e2e-images/app',
      Tag: '1',
    });
    expect(await buildOn(fresh, APP)).toBe('hello\n');
  }, 60_000);

  it('loads an OCI archive from stdin', async () => {
    const file = join(work, 'stdin-oci.tar');
    expectOk(await runTbuild(['save', '--root', store, '--format', 'oci', '-o', file, APP]));
    const fresh = join(work, 'loaded-stdin');
    const loaded = await runTbuild(['load', '--root', fresh], { input: await readFile(file) });
    expectOk(loaded);
    expect(loaded.stdout).toBe(`Loaded image: ${APP}\n`);
  });

  it('loads a docker archive written by skopeo, with linked layer tars', async () => {
    const file = join(work, 'skopeo.tar');
    await run('skopeo', [
      'copy',
      `docker-archive:${archive}`,
      `docker-archive:${file}:skopeo/app:7`,
    ]);
    const { stdout: listing } = await run('tar', ['-tf', file]);
    expect(listing).toMatch(/\/layer\.tar$/m); // the legacy layout, not ours
    const fresh = join(work, 'loaded-skopeo');
    const loaded = await runTbuild(['load', '--root', fresh, '-i', file]);
    expectOk(loaded);
    expect(loaded.stdout).toBe('Loaded image: skopeo/app:7\n');
    expect(await buildOn(fresh, 'skopeo/app:7')).toBe('hello\n');
  }, 60_000);

  it('rejects a tar that holds no image', async () => {
    const file = join(work, 'plain.tar');
    await run('tar', ['-cf', file, '-C', context, 'Dockerfile']);
    const result = await runTbuild(['load', '--root', join(work, 'none'), '-i', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ERROR: the archive has neither manifest.json nor index.json');
    expect(result.stderr).toContain('hint: Pass a tar written by `docker save`');
  });
});

describe('docker and a saved archive', () => {
  it('docker loads and runs the archive', async (ctx) => {
    const daemon = await run('docker', ['info']).catch((error: Error) => error);
    if (daemon instanceof Error) {
      ctx.skip(`no Docker daemon answers (docker info: ${daemon.message.split('\n')[0]})`);
      return;
    }
    // A name of its own, so the daemon's other images (the reference busybox) are untouched.
    const name = `tbuild-e2e-images/docker-load:${process.pid}`;
    expectOk(await runTbuild(['tag', '--root', store, APP, name]));
    const file = join(work, 'docker.tar');
    expectOk(await runTbuild(['save', '--root', store, '-o', file, name]));
    try {
      const { stdout: loaded } = await run('docker', ['load', '-i', file]);
      expect(loaded).toContain(`Loaded image: ${name}`);
      const { stdout } = await run('docker', ['run', '--rm', name]);
      expect(stdout).toBe('hello\n');
    } finally {
      await run('docker', ['rmi', name]).catch(() => undefined);
      await runTbuild(['rm', '--root', store, name]);
    }
  }, 60_000);
});

describe('tbuild inspect and history', () => {
  it('inspect shows the image as docker does, with its manifest', async () => {
    const result = await runTbuild(['inspect', '--root', store, APP]);
    expectOk(result);
    const [image] = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(Object.keys(image!)).toEqual(
      expect.arrayContaining([
        'Id',
        'RepoTags',
        'Config',
        'Architecture',
        'Os',
        'RootFS',
        'Manifest',
      ]),
    );
    expect(image!.RepoTags).toEqual([APP]);
    expect(image!.Config).toMatchObject({ Cmd: ['cat', '/greeting'], Labels: { purpose: 'e2e' } });
    expect((image!.RootFS as { Layers: string[] }).Layers).toHaveLength(2);
    expect((image!.Manifest as { layers: unknown[] }).layers).toHaveLength(2);
    const id = await runTbuild([
      'inspect',
      '--root',
      store,
      '-f',
      '{{.Id}} {{json .Config.Cmd}}',
      APP,
    ]);
    expect(id.stdout).toBe(`${image!.Id as string} ["cat","/greeting"]\n`);
  });

  it('history lists the layers newest first with sizes and comments', async () => {
    const result = await runTbuild(['history', '--root', store, APP]);
    expectOk(result);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$/);
    expect(lines).toHaveLength(5); // header, CMD, RUN, LABEL, the imported base
    expect(lines[1]).toMatch(
      /^[0-9a-f]{12} .*CMD \["cat" "\/greeting"\] +0B +buildkit\.dockerfile\.v0$/,
    );
    // CREATED BY is cut to 45 characters, as docker does without --no-trunc.
    expect(lines[2]).toMatch(
      /^<missing> .*RUN \/bin\/sh -c echo hello > \/greeting # buil… +6B +buildkit/,
    );
    expect(lines[4]).toMatch(/^<missing> .*tbuild import .* +1\.\d+MB/);
  });
});
