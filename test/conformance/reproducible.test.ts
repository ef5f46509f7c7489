/**
 * SOURCE_DATE_EPOCH: the same Dockerfile built twice, in two stores, at different times and
 * from context files with different mtimes, with `rewrite-timestamp=true` gives the same
 * layers and the same image ID (the config digest), dated at the epoch.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { extract } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBusyboxImage, makeBusyboxRootfsTar } from '../helpers/base-images.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';

// Older than every mtime below: rewrite-timestamp clamps newer times to the epoch, as BuildKit does.
const EPOCH = 1_500_000_000;

const DOCKERFILE = `FROM localhost:5000/busybox
RUN mkdir -p /out && echo built > /out/run.txt && touch /out/now
COPY app/ /app/
WORKDIR /app/work
`;

let work: string;
let rootfsTar: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'tbuild-reproducible-'));
  rootfsTar = path.join(work, 'busybox.tar');
  await makeBusyboxRootfsTar(rootfsTar);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

interface ArchiveDigests {
  imageId: string;
  layers: string[];
  created: string | undefined;
}

const sha256File = async (file: string): Promise<string> =>
  'sha256:' +
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

/** The config digest (the image ID) and each layer's digest, as stored in the archive. */
async function readArchiveDigests(archive: string): Promise<ArchiveDigests> {
  const dir = await mkdtemp(path.join(work, 'unpacked-'));
  await extract({ file: archive, cwd: dir });
  const [image] = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as {
    Config: string;
    Layers: string[];
  }[];
  if (!image) throw new Error(`${archive}: manifest.json lists no image`);
  const config = JSON.parse(await readFile(path.join(dir, image.Config), 'utf8')) as {
    created?: string;
  };
  return {
    imageId: await sha256File(path.join(dir, image.Config)),
    layers: await Promise.all(image.Layers.map((l) => sha256File(path.join(dir, l)))),
    created: config.created,
  };
}

/** A fresh store and context (files stamped `mtime`), built once; returns its digests. */
async function buildOnce(
  name: string,
  mtime: number,
  epoch: { arg?: boolean; env?: boolean },
): Promise<ArchiveDigests> {
  const dir = path.join(work, name);
  const store = path.join(dir, 'store');
  const context = path.join(dir, 'context');
  await mkdir(path.join(context, 'app/sub'), { recursive: true });
  await writeFile(path.join(context, 'Dockerfile'), DOCKERFILE);
  await writeFile(path.join(context, 'app/main.txt'), 'main\n');
  await writeFile(path.join(context, 'app/sub/data.txt'), 'data\n');
  for (const p of ['app/main.txt', 'app/sub/data.txt', 'app/sub', 'app']) {
    await utimes(path.join(context, p), mtime, mtime);
  }
  await ensureBusyboxImage(store, { rootfsTar });
  const dest = path.join(dir, 'img.tar');
  const result = await runTbuild(
    [
      'build',
      '--root',
      store,
      '--progress=plain',
      '-o',
      `type=docker,dest=${dest},rewrite-timestamp=true`,
      ...(epoch.arg ? ['--build-arg', `SOURCE_DATE_EPOCH=${String(EPOCH)}`] : []),
      context,
    ],
    epoch.env ? { env: { SOURCE_DATE_EPOCH: String(EPOCH) } } : {},
  );
  expect(result.code, `tbuild build failed:\n${result.stderr}`).toBe(0);
  return readArchiveDigests(dest);
}

describe('SOURCE_DATE_EPOCH with rewrite-timestamp=true', () => {
  it('gives identical layers and image ID from two stores and differently dated contexts', async () => {
    const first = await buildOnce('first', 1_600_000_000, { arg: true });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = await buildOnce('second', 1_650_000_000, { arg: true });
    expect(second.layers).toEqual(first.layers);
    expect(second.imageId).toBe(first.imageId);
    expect(first.created && Date.parse(first.created)).toBe(EPOCH * 1000);
  });

  it('reads SOURCE_DATE_EPOCH from the environment like the build argument', async () => {
    const fromArg = await buildOnce('from-arg', 1_600_000_000, { arg: true });
    const fromEnv = await buildOnce('from-env', 1_610_000_000, { env: true });
    expect(fromEnv.layers).toEqual(fromArg.layers);
    expect(fromEnv.imageId).toBe(fromArg.imageId);
  });
});
