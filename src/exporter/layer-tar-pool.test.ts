import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256 } from '../shared/digest.ts';
import { release, take } from './layer-tar-pool.ts';
import { generateLayerTar, hashLayerTar, warmLayerHasher } from './layer-writer.ts';
import { cleanupTempDirs, makeTempDir } from './test-helpers.ts';

afterAll(cleanupTempDirs);

const script = new URL('./layer-tar-worker.ts', import.meta.url);

describe('layer-tar workers', () => {
  it('keeps a worker whose hash succeeded for the next hash, and never hands out a dead one', async () => {
    const first = await take(script);
    release(first);
    const again = await take(script);
    expect(again).toBe(first);
    release(again);
    await again.terminate(); // a waiting worker that died
    const fresh = await take(script);
    expect(fresh).not.toBe(first);
    await fresh.terminate();
  });

  it('hashes one layer after another through a warmed worker, and after a failure', async () => {
    const layer = await makeTempDir();
    await writeFile(join(layer, 'a'), Buffer.alloc(2_000_000, 1));
    const tar = async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of generateLayerTar(layer)) chunks.push(chunk);
      return Buffer.concat(chunks);
    };
    warmLayerHasher();
    expect((await hashLayerTar(layer, { worker: true })).diffId).toBe(sha256(await tar()));
    await writeFile(join(layer, 'b'), 'second layer');
    expect((await hashLayerTar(layer, { worker: true })).diffId).toBe(sha256(await tar()));
    await expect(hashLayerTar(join(layer, 'gone'), { worker: true })).rejects.toThrow(/gone/);
    expect((await hashLayerTar(layer, { worker: true })).diffId).toBe(sha256(await tar()));
  });

  it('does not keep a program alive with a worker waiting', async () => {
    const layer = await makeTempDir();
    await writeFile(join(layer, 'a'), 'content');
    const writer = JSON.stringify(new URL('./layer-writer.ts', import.meta.url).href);
    // One program leaves the worker of a finished hash waiting, the other a warmed one.
    for (const body of [
      `const { diffId } = await hashLayerTar(${JSON.stringify(layer)}, { worker: true });
       process.stdout.write(diffId + '\\n');`,
      `warmLayerHasher(); process.stdout.write('warmed\\n');`,
    ]) {
      // From a file: a worker inherits the program's flags, and --input-type fails there.
      const program = join(layer, 'program.mjs');
      await writeFile(
        program,
        `const { hashLayerTar, warmLayerHasher } = await import(${writer});\n${body}`,
      );
      const started = Date.now();
      const result = spawnSync(process.execPath, ['--no-warnings', program], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/^(sha256:[0-9a-f]{64}|warmed)\n$/);
      expect(Date.now() - started).toBeLessThan(15_000);
    }
  });
});
