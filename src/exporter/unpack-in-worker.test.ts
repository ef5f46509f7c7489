import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { TbuildError } from '../shared/errors.ts';
import { unpackLayer } from './layer-unpack.ts';
import { writeLayerTar } from './layer-writer.ts';
import { cleanupTempDirs, describeTree, makeFixtureLayer, makeTempDir } from './test-helpers.ts';
import { unpackLayerInWorker } from './unpack-in-worker.ts';

afterAll(cleanupTempDirs);

describe('unpackLayerInWorker', () => {
  it('unpacks the same tree with the same digests as unpackLayer in this thread', async () => {
    const layer = await makeTempDir();
    await makeFixtureLayer(layer);
    const blob = join(await makeTempDir(), 'layer.tar.gz');
    await writeLayerTar(layer, blob, { compression: 'gzip' });
    const [here, there] = [join(await makeTempDir(), 'a'), join(await makeTempDir(), 'b')];
    // Small chunks: many messages, so the worker's backpressure is exercised.
    const chunks = (): Readable => createReadStream(blob, { highWaterMark: 1024 });
    const expected = await unpackLayer(chunks(), here);
    expect(await unpackLayerInWorker(chunks(), there)).toEqual(expected);
    expect(await describeTree(there)).toEqual(await describeTree(here));
  });

  it("rejects with the unpack's typed error, code and hint kept", async () => {
    const notATar = Readable.from([Buffer.alloc(3000, 7)]);
    const failed = unpackLayerInWorker(notATar, join(await makeTempDir(), 'x'));
    await expect(failed).rejects.toBeInstanceOf(TbuildError);
    await expect(failed).rejects.toMatchObject({
      code: 'TBUILD_LAYER_TAR_INVALID',
      hint: expect.stringContaining('corrupt'),
    });
  });

  it('rejects with the error of a stream that breaks off, and the worker stops', async () => {
    const blob = await readFile(
      await (async () => {
        const layer = await makeTempDir();
        await makeFixtureLayer(layer);
        const file = join(await makeTempDir(), 'l.tar.gz');
        await writeLayerTar(layer, file, { compression: 'gzip' });
        return file;
      })(),
    );
    async function* breaking(): AsyncGenerator<Buffer> {
      yield blob.subarray(0, 100);
      throw new Error('connection reset');
    }
    await expect(unpackLayerInWorker(breaking(), join(await makeTempDir(), 'y'))).rejects.toThrow(
      'connection reset',
    );
  });
});
