/**
 * Content-addressed blobs at `blobs/sha256/<hex>`. A blob file exists only once it is
 * complete and verified: bytes go to a temp file in this process's lease directory,
 * are hashed while streaming, fsync'd, checked, then renamed into place.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, unlinkSync } from 'node:fs';
import { open, readdir, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { digestHex, isDigest, sha256 } from '../shared/digest.ts';
import { DiskFullError, isDiskFull } from '../shared/errors.ts';
import type { Digest } from '../shared/digest.ts';
import { BlobInUseError, BlobNotFoundError, DigestMismatchError } from './errors.ts';
import { isNotFound, syncDirectory } from './fs-utils.ts';
import type { StoreContext } from './context.ts';
import { withTransaction } from './database.ts';
import type { BlobInfo, BlobStore } from './types.ts';

/** Create the blob store of an open store. */
export function createBlobStore(ctx: StoreContext): BlobStore {
  const dir = ctx.layout.blobs;
  const pathOf = (digest: Digest): string => join(dir, assertDigest(digest));

  const size = async (digest: Digest): Promise<number | undefined> => {
    try {
      return (await stat(pathOf(digest))).size;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  };

  const ingest = async (
    source: Readable | AsyncIterable<Uint8Array>,
    expected?: { digest: Digest; size?: number },
  ): Promise<BlobInfo> => {
    const temp = join(await ctx.leaseTempDir(), `blob-${randomBytes(6).toString('hex')}`);
    try {
      return await ingestTo(temp, source, expected);
    } catch (error) {
      if (isDiskFull(error) && !(error instanceof DiskFullError)) {
        const what = expected ? `writing blob ${expected.digest}` : 'writing a blob';
        throw new DiskFullError(ctx.layout.root, what, { cause: error });
      }
      throw error;
    }
  };

  const ingestTo = async (
    temp: string,
    source: Readable | AsyncIterable<Uint8Array>,
    expected?: { digest: Digest; size?: number },
  ): Promise<BlobInfo> => {
    try {
      const written = await writeHashed(temp, source, expected?.size);
      if (expected && expected.digest !== written.digest) {
        throw new DigestMismatchError(`blob ${expected.digest}`, expected.digest, written.digest);
      }
      if (expected?.size !== undefined && expected.size !== written.size) {
        throw new DigestMismatchError(
          `size of blob ${expected.digest}`,
          `${expected.size} bytes`,
          `${written.size} bytes`,
        );
      }
      await rename(temp, pathOf(written.digest));
      await syncDirectory(dir);
      return written;
    } finally {
      await unlink(temp).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
    }
  };

  return {
    path: pathOf,
    has: async (digest) => (await size(digest)) !== undefined,
    size,
    async put(data) {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      const digest = sha256(bytes);
      if (await touchIfPresent(pathOf(digest))) return { digest, size: bytes.length };
      return ingest(yieldOnce(bytes), { digest, size: bytes.length });
    },
    ingest,
    async read(digest) {
      try {
        return await readFile(pathOf(digest));
      } catch (error) {
        if (isNotFound(error)) throw new BlobNotFoundError(digest, { cause: error });
        throw error;
      }
    },
    async readJson<T>(digest: Digest): Promise<T> {
      return JSON.parse((await this.read(digest)).toString('utf8')) as T;
    },
    stream(digest) {
      const path = pathOf(digest);
      if (!existsSync(path)) throw new BlobNotFoundError(digest);
      return Readable.from(verifiedRead(path, digest), { objectMode: false });
    },
    async delete(digest) {
      const path = pathOf(digest);
      // Check and unlink under the write lock: a reference cannot be added in between.
      withTransaction(ctx.db, () => {
        if (isBlobReferenced(ctx, digest)) throw new BlobInUseError(digest);
        unlinkSyncIfPresent(path);
      });
    },
    async *list() {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (error) {
        if (isNotFound(error)) return;
        throw error;
      }
      for (const name of names) {
        const digest = `sha256:${name}` as Digest;
        if (!isDigest(digest)) continue;
        const bytes = await size(digest);
        if (bytes !== undefined) yield { digest, size: bytes };
      }
    },
  };
}

/**
 * A stored blob's bytes, hashed as they are read: a blob damaged on disk fails the read
 * at its end (exports and pushes then fail instead of shipping corrupt bytes). The last
 * chunk is held back until the hash is checked, so a reader never gets the whole of it.
 */
async function* verifiedRead(path: string, digest: Digest): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let held: Buffer | undefined;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    if (held) yield held;
    held = chunk as Buffer;
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== digest) {
    throw new DigestMismatchError(`stored blob ${digest}`, digest, actual, {
      hint: 'The blob was damaged on disk. Run `tbuild check --repair` to drop it, then pull or build again.',
    });
  }
  if (held) yield held;
}

async function* yieldOnce(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

function assertDigest(digest: Digest): string {
  if (!isDigest(digest)) throw new TypeError(`not a sha256 digest: ${String(digest)}`);
  return digestHex(digest);
}

/** Stream to `file`, hashing as we go; stop early once more than `limit` bytes arrive. */
async function writeHashed(
  file: string,
  source: Readable | AsyncIterable<Uint8Array>,
  limit: number | undefined,
): Promise<BlobInfo> {
  const hash = createHash('sha256');
  const handle = await open(file, 'wx', 0o644);
  let size = 0;
  try {
    for await (const chunk of source) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
      size += bytes.length;
      if (limit !== undefined && size > limit) {
        throw new DigestMismatchError('blob size', `${limit} bytes`, `more than ${limit} bytes`);
      }
      hash.update(bytes);
      await writeFully(handle, bytes);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/**
 * Write all of `bytes`: write(2) may write fewer bytes than asked (a disk nearly full, a
 * signal), and FileHandle.write does not retry, so a blob could be committed short.
 */
export async function writeFully(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    if (bytesWritten === 0) throw Object.assign(new Error('write wrote nothing'), { code: 'EIO' });
    offset += bytesWritten;
  }
}

/** An existing blob gets a fresh mtime: prune spares blobs written during live sessions. */
async function touchIfPresent(path: string): Promise<boolean> {
  try {
    const now = new Date();
    await utimes(path, now, now);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

function unlinkSyncIfPresent(path: string): void {
  try {
    // Synchronous on purpose: it must happen inside the database transaction.
    unlinkSync(path);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/** Whether an image (manifest, config, layers) or a snapshot's layer blobs name `digest`. */
export function isBlobReferenced(ctx: StoreContext, digest: Digest): boolean {
  const row = ctx.db
    .prepare(
      `SELECT 1 FROM image_blobs WHERE digest = ?1
       UNION ALL SELECT 1 FROM layer_blobs WHERE digest = ?1 LIMIT 1`,
    )
    .get(digest);
  return row !== undefined;
}
