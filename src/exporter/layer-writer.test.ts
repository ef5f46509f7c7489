import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256 } from '../shared/digest.ts';
import { MediaType } from '../shared/oci.ts';
import { CHUNK_BYTES, layerXattrs } from './layer-tar.ts';
import { unpackLayer } from './layer-unpack.ts';
import { generateLayerTar, hashLayerTar, writeLayerTar } from './layer-writer.ts';
import { cleanupTempDirs, describeTree, makeFixtureLayer, makeTempDir } from './test-helpers.ts';

afterAll(cleanupTempDirs);

describe('writeLayerTar', () => {
  it('writes whiteouts, opaque markers, hard links, devices and capabilities as OCI entries', async () => {
    const layer = await makeTempDir();
    await makeFixtureLayer(layer);
    const tarPath = join(await makeTempDir(), 'layer.tar');
    const result = await writeLayerTar(layer, tarPath, { compression: 'uncompressed' });
    expect(result.mediaType).toBe(MediaType.OciLayer);
    expect(result.diffId).toBe(result.digest);
    expect(result.diffId).toBe(sha256(await readFile(tarPath)));
    const listing = execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-tvvf', tarPath], {
      encoding: 'utf8',
      env: { ...process.env, TZ: 'UTC' },
    });
    expect(listing).toMatch(/-rw------- +0\/0 +0 .* etc\/\.wh\.deleted/);
    // Docker's opaque marker: the directory's permission bits and owner, a zero mtime.
    expect(listing).toMatch(/drwxr-s--- +100\/101 .* etc\/opaque\/\n/);
    expect(listing).toMatch(
      /-rwxr-x--- +100\/101 +0 1970-01-01 00:00 etc\/opaque\/\.wh\.\.wh\.\.opq/,
    );
    expect(listing).toMatch(/h.* etc\/passwd-hardlink link to etc\/passwd/);
    expect(listing).toMatch(/-rwsr-xr-x\* 0\/0 .* bin\/ping\n\s+x: +20 security\.capability/);
    expect(listing).toMatch(/crw-rw-rw- +0\/0 +1,3 .* null/);
    expect(listing).toMatch(/prw-r----- +0\/0 .* fifo/);
    expect(listing).toMatch(/drwxrwxrwt +0\/0 .* tmp\//);
    expect(listing).not.toMatch(/trusted\.overlay/);
    // Sorted, and no entry for the layer root itself.
    const names = execFileSync('tar', ['-tf', tarPath], { encoding: 'utf8' }).trim().split('\n');
    expect(names[0]).toBe('abs-link');
  });

  it('round-trips through unpackLayer to an identical tree, including xattrs and devices', async () => {
    const layer = await makeTempDir();
    await makeFixtureLayer(layer);
    const tarPath = join(await makeTempDir(), 'layer.tar.gz');
    const written = await writeLayerTar(layer, tarPath, { compression: 'gzip' });
    const unpacked = join(await makeTempDir(), 'diff');
    const result = await unpackLayer(createReadStream(tarPath), unpacked);
    expect(result).toMatchObject({
      diffId: written.diffId,
      digest: written.digest,
      compression: 'gzip',
    });
    expect(result.size).toBe(written.uncompressedSize);
    expect(await describeTree(unpacked)).toEqual(await describeTree(layer));
  });

  it('gives byte-identical gzip and zstd output for the same tree', async () => {
    const layer = await makeTempDir();
    await makeFixtureLayer(layer);
    const dir = await makeTempDir();
    for (const compression of ['gzip', 'zstd'] as const) {
      const a = await writeLayerTar(layer, join(dir, `a.${compression}`), {
        compression,
        sourceDateEpoch: 0,
      });
      const b = await writeLayerTar(layer, join(dir, `b.${compression}`), {
        compression,
        sourceDateEpoch: 0,
      });
      expect(a.digest).toBe(b.digest);
      expect(await readFile(join(dir, `a.${compression}`))).toEqual(
        await readFile(join(dir, `b.${compression}`)),
      );
      const bytes = await readFile(join(dir, `a.${compression}`));
      if (compression === 'gzip')
        expect(bytes.readUInt32LE(4)).toBe(0); // gzip header mtime
      else expect(bytes.subarray(0, 4)).toEqual(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
      const unpacked = join(dir, `unpacked-${compression}`);
      const { diffId } = await unpackLayer(
        createReadStream(join(dir, `a.${compression}`)),
        unpacked,
      );
      expect(diffId).toBe(a.diffId);
    }
  });

  it('keeps tar order and every byte for many files of all sizes', async () => {
    const layer = await makeTempDir();
    const contents = new Map<string, Buffer>();
    // Sizes around the tar block (512 B) and the output chunk (1 MiB), and several chunks.
    const sizes = [0, 1, 511, 512, 4096, 65_536, 65_537, 300_000, 1_048_576, 1_048_577, 2_500_000];
    for (let i = 0; i < 120; i++) {
      const size = sizes[i % sizes.length]!;
      const data = Buffer.alloc(size, (i * 7) % 251);
      const name = `d${i % 5}/f${String(i).padStart(3, '0')}`;
      contents.set(name, data);
      await mkdir(join(layer, `d${i % 5}`), { recursive: true });
      await writeFile(join(layer, name), data);
    }
    const tarPath = join(await makeTempDir(), 'layer.tar');
    await writeLayerTar(layer, tarPath, { compression: 'uncompressed' });
    const names = execFileSync('tar', ['-tf', tarPath], { encoding: 'utf8' }).trim().split('\n');
    const expected = [...contents.keys(), 'd0/', 'd1/', 'd2/', 'd3/', 'd4/'].sort();
    expect(names).toEqual(expected);
    const unpacked = join(await makeTempDir(), 'diff');
    await unpackLayer(createReadStream(tarPath), unpacked);
    for (const [name, data] of contents)
      expect((await readFile(join(unpacked, name))).equals(data), name).toBe(true);
    // The worker writes the same tar into its ring in place, and copies a chunk that
    // outgrew its slot: with no spare room in the slots, every header past a chunk does.
    const tar = await readFile(tarPath);
    const expectedDigest = { diffId: sha256(tar), size: tar.length };
    expect(await hashLayerTar(layer, { worker: true })).toMatchObject(expectedDigest);
    expect(await hashLayerTar(layer, { worker: true, slotBytes: CHUNK_BYTES })).toMatchObject(
      expectedDigest,
    );
  });

  it('hashes in a worker entries whose PAX headers cross chunk boundaries', async () => {
    const layer = await makeTempDir();
    // 2,560 bytes per entry (three header blocks for a long name, two of content): headers
    // start in the last 1,536 bytes of some chunks and outgrow them.
    for (let i = 0; i < 2000; i++)
      await writeFile(
        join(layer, `${String(i).padStart(4, '0')}-${'n'.repeat(120)}`),
        'x'.repeat(1000),
      );
    const chunks: Buffer[] = [];
    for await (const chunk of generateLayerTar(layer)) chunks.push(chunk);
    const tar = Buffer.concat(chunks);
    const expected = { diffId: sha256(tar), size: tar.length, contentBytes: 2_000_000 };
    expect(await hashLayerTar(layer, { worker: true })).toEqual(expected);
    expect(await hashLayerTar(layer, { worker: true, slotBytes: CHUNK_BYTES })).toEqual(expected);
  });

  it('gzips a layer bigger than one compression chunk into one valid member that unpacks intact', async () => {
    const layer = await makeTempDir();
    // Compressible and incompressible data, so chunks of both kinds meet at the boundaries.
    const text = Buffer.from('layer chunk boundary '.repeat(100_000)); // ~2 MiB
    const noise = Buffer.alloc(1536 * 1024);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 13;
    await writeFile(join(layer, 'text'), text);
    await writeFile(join(layer, 'noise'), noise);
    const blob = join(await makeTempDir(), 'layer.tar.gz');
    const written = await writeLayerTar(layer, blob, { compression: 'gzip' });
    expect(written.digest).toBe(sha256(await readFile(blob)));
    expect(written.uncompressedSize).toBeGreaterThan(3 * 1024 * 1024);
    execFileSync('gzip', ['-t', blob]);
    const unpacked = join(await makeTempDir(), 'diff');
    const result = await unpackLayer(createReadStream(blob), unpacked);
    expect(result.diffId).toBe(written.diffId);
    expect((await readFile(join(unpacked, 'text'))).equals(text)).toBe(true);
    expect((await readFile(join(unpacked, 'noise'))).equals(noise)).toBe(true);
  });

  it('clamps newer file times to SOURCE_DATE_EPOCH so trees built at different times match', async () => {
    const early = await makeTempDir();
    const late = await makeTempDir();
    await makeFixtureLayer(early, 1_700_000_000);
    await makeFixtureLayer(late, 1_800_000_000);
    await utimes(join(late, 'big'), 1_900_000_000, 1_900_000_000);
    const options = {
      compression: 'gzip',
      sourceDateEpoch: 1_600_000_000,
      rewriteTimestamps: true,
    } as const;
    const dir = await makeTempDir();
    const a = await writeLayerTar(early, join(dir, 'a'), options);
    const b = await writeLayerTar(late, join(dir, 'b'), options);
    expect(a.digest).toBe(b.digest);
    const unclamped = await writeLayerTar(early, join(dir, 'c'), { compression: 'gzip' });
    expect(unclamped.diffId).not.toBe(a.diffId);
  });

  it('hashes a layer in a worker thread to the diff ID of its tar, and reports a failure', async () => {
    const layer = await makeTempDir();
    await makeFixtureLayer(layer);
    await writeFile(join(layer, 'large'), Buffer.alloc(3 * 1024 * 1024 + 7, 3)); // several chunks
    const chunks: Buffer[] = [];
    for await (const chunk of generateLayerTar(layer)) chunks.push(chunk);
    const tar = Buffer.concat(chunks);
    // The apparent size of files and symlinks, a hard-linked inode once: the store's measure.
    const expected = { diffId: sha256(tar), size: tar.length, contentBytes: measuredSize(layer) };
    expect(await hashLayerTar(layer, { worker: true })).toEqual(expected);
    expect(await hashLayerTar(layer)).toEqual(expected);
    // Attributes read beforehand (as a build reads them while the layer is unmounted)
    // cross into the worker as a copy: the opaque marker and capability must survive it.
    const xattrs = await layerXattrs(layer);
    expect(await hashLayerTar(layer, { worker: true }, xattrs)).toEqual(expected);
    expect(await hashLayerTar(layer, {}, xattrs)).toEqual(expected);
    const written = await writeLayerTar(layer, join(await makeTempDir(), 'l.tar'), {
      compression: 'uncompressed',
    });
    expect(written.diffId).toBe(expected.diffId);
    const missing = hashLayerTar(join(layer, 'no-such-dir'), { worker: true });
    await expect(missing).rejects.toMatchObject({ code: 'TBUILD_LAYER_WRITE' });
    await expect(missing).rejects.toThrow(/no-such-dir/);
  });
});

/** What `find -printf` says the tree holds, counted as the store's measureTree does. */
function measuredSize(dir: string): number {
  const listing = execFileSync(
    'find',
    [dir, '(', '-type', 'f', '-o', '-type', 'l', ')', '-printf', '%n %i %s\\n'],
    {
      encoding: 'utf8',
    },
  );
  const seen = new Set<string>();
  let total = 0;
  for (const line of listing.trim().split('\n')) {
    const [links, inode, size] = line.split(' ');
    if (links !== '1' && seen.has(inode!)) continue;
    seen.add(inode!);
    total += Number(size);
  }
  return total;
}
