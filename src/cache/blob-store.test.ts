import { readdir, readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256 } from '../shared/digest.ts';
import { BlobInUseError, BlobNotFoundError, DigestMismatchError } from './errors.ts';
import { createTempRoot } from './test-helpers.ts';
import type { Store } from './types.ts';

let temp: Awaited<ReturnType<typeof createTempRoot>>;
let store: Store;
beforeEach(async () => {
  temp = await createTempRoot();
  store = await temp.open();
});
afterEach(() => temp.cleanup());

describe('blob store', () => {
  it('stores bytes under blobs/sha256/<hex> and reads them back', async () => {
    const info = await store.blobs.put('hello');
    expect(info).toEqual({ digest: sha256('hello'), size: 5 });
    expect(store.blobs.path(info.digest)).toBe(`${temp.root}/blobs/sha256/${info.digest.slice(7)}`);
    expect((await store.blobs.read(info.digest)).toString()).toBe('hello');
    expect(await store.blobs.size(info.digest)).toBe(5);
    expect(await store.blobs.has(info.digest)).toBe(true);
  });

  it('writes the same content twice without error', async () => {
    const a = await store.blobs.put('same');
    const b = await store.blobs.put(Buffer.from('same'));
    expect(b).toEqual(a);
    const listed = [];
    for await (const blob of store.blobs.list()) listed.push(blob);
    expect(listed).toEqual([a]);
  });

  it('ingests a stream and verifies it against the expected digest', async () => {
    const data = Buffer.alloc(300_000, 7);
    const info = await store.blobs.ingest(
      Readable.from([data.subarray(0, 1000), data.subarray(1000)]),
      {
        digest: sha256(data),
        size: data.length,
      },
    );
    expect(info.size).toBe(300_000);
    expect(await readFile(store.blobs.path(info.digest))).toEqual(data);
  });

  it('rejects content whose digest differs and keeps nothing of it', async () => {
    const wrong = sha256('something else');
    await expect(
      store.blobs.ingest(Readable.from([Buffer.from('actual')]), { digest: wrong }),
    ).rejects.toBeInstanceOf(DigestMismatchError);
    expect(await store.blobs.has(wrong)).toBe(false);
    expect(await store.blobs.has(sha256('actual'))).toBe(false);
    expect(await listTemp(temp.root)).toEqual([]);
  });

  it('rejects content longer than the expected size', async () => {
    const err = await store.blobs
      .ingest(Readable.from([Buffer.from('too long')]), { digest: sha256('too long'), size: 3 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect((err as DigestMismatchError).code).toBe('TBUILD_DIGEST_MISMATCH');
  });

  it('reports a missing blob with a typed error', async () => {
    await expect(store.blobs.read(sha256('nope'))).rejects.toBeInstanceOf(BlobNotFoundError);
    expect(() => store.blobs.stream(sha256('nope'))).toThrow(BlobNotFoundError);
  });

  it('refuses to delete a blob an image still uses, and deletes it once untagged', async () => {
    const manifest = await store.blobs.put('{}');
    const config = await store.blobs.put('{"os":"linux"}');
    store.images.set({
      name: 'x:1',
      manifest: manifest.digest,
      config: config.digest,
      snapshot: null,
      createdAt: 1,
    });
    await expect(store.blobs.delete(config.digest)).rejects.toBeInstanceOf(BlobInUseError);
    store.images.delete('x:1');
    await store.blobs.delete(config.digest);
    expect(await store.blobs.has(config.digest)).toBe(false);
  });
});

async function listTemp(root: string): Promise<string[]> {
  const found: string[] = [];
  for (const lease of await readdir(`${root}/tmp`))
    found.push(...(await readdir(`${root}/tmp/${lease}`)));
  return found;
}
