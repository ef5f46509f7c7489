/**
 * A base image whose config has no `history` (valid OCI: the field is optional) builds
 * and exports, with history synthesized for its layers as BuildKit's exporter does
 * (issue 14, item 11). The base is a one-layer image pushed to a real loopback registry.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestImage, pushTestImage, startRegistry } from '../helpers/registry.ts';
import type { TestRegistry } from '../helpers/registry.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';

describe('a base image without history', () => {
  let registry: TestRegistry;
  let work: string;
  let base: string;

  beforeAll(async () => {
    registry = await startRegistry();
    work = await mkdtemp(join(tmpdir(), 'tbuild-nohistory-'));
    const image = await makeTestImage({ 'etc/base.txt': 'base\n' });
    expect(JSON.parse(image.config.toString()).history).toBeUndefined();
    base = `${registry.host}/nohistory/base:1`;
    await pushTestImage(base, image);
  });
  afterAll(async () => {
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('builds FROM it and exports, with one history entry per layer', async () => {
    const context = join(work, 'context');
    await mkdir(context, { recursive: true });
    await writeFile(join(context, 'Dockerfile'), `FROM ${base}\nCOPY app.txt /app.txt\nENV A=1\n`);
    await writeFile(join(context, 'app.txt'), 'app\n');
    const dest = join(work, 'out');
    const result = await runTbuild([
      'build',
      '--root',
      join(work, 'store'),
      '-o',
      `type=oci,dest=${dest},tar=false`,
      context,
    ]);
    expect(result.stderr).not.toContain('ERROR');
    expect(result.code).toBe(0);
    const blob = async (digest: string) =>
      JSON.parse(await readFile(join(dest, 'blobs', 'sha256', digest.slice(7)), 'utf8'));
    const index = JSON.parse(await readFile(join(dest, 'index.json'), 'utf8'));
    const manifest = await blob(index.manifests[0].digest);
    const config = await blob(manifest.config.digest);
    expect(manifest.layers).toHaveLength(2);
    const history = config.history as {
      created_by?: string;
      comment?: string;
      empty_layer?: boolean;
    }[];
    expect(history.filter((h) => !h.empty_layer)).toHaveLength(2);
    // The entries of this build come first; the base layer's is appended, as BuildKit does.
    expect(history.map((h) => h.comment)).toEqual([
      'buildkit.dockerfile.v0',
      'buildkit.dockerfile.v0',
      'buildkit.exporter.image.v0',
    ]);
  });
});
