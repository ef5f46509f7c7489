/**
 * Write a layer directory (overlayfs upperdir form) as an OCI layer tar: whiteout devices
 * become `.wh.<name>` files, opaque directories get a `.wh..wh..opq` entry, hard links,
 * devices, FIFOs and extended attributes are kept. The walk is sorted and headers carry no
 * host-specific data, so an unchanged tree always gives the same bytes.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync, type Stats } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Digest } from '../shared/digest.ts';
import { overlayOpaqueXattr } from '../shared/userns.ts';
import { createCompressor, ociLayerMediaType, type Compression } from './compression.ts';
import { LayerWriteError } from './errors.ts';
import { encodeEntryHeader, endOfArchive, padding, type TarEntry } from './tar-format.ts';
import { splitDevice } from './tools.ts';
import { walkTree, type WalkEntry } from './tree-walk.ts';
import { isOverlayXattr, readXattrs, type XattrMap } from './xattrs.ts';

export interface LayerWriteOptions {
  /** SOURCE_DATE_EPOCH in seconds. */
  sourceDateEpoch?: number;
  /** Clamp every mtime to `sourceDateEpoch` (BuildKit's rewrite-timestamp). */
  rewriteTimestamps?: boolean;
  compression: Compression;
  compressionLevel?: number;
}

export interface LayerWriteResult {
  /** sha256 of the uncompressed tar. */
  diffId: Digest;
  /** sha256 of the bytes written (compressed). */
  digest: Digest;
  /** Bytes written. */
  size: number;
  /** Bytes of the uncompressed tar. */
  uncompressedSize: number;
  /** OCI layer media type for the compression. */
  mediaType: string;
}

/** Files up to this size are read whole, ahead of their turn; larger ones are streamed. */
const READ_AHEAD_FILE = 1024 * 1024;
/**
 * Up to this size a file is read synchronously: from the page cache that takes a few
 * microseconds, less than the thread-pool round trips of an async read cost in CPU.
 */
const SYNC_READ_FILE = 64 * 1024;
/** Read-ahead window: entries, and bytes of content held. */
const READ_AHEAD_ENTRIES = 32;
const READ_AHEAD_BYTES = 32 * 1024 * 1024;

/**
 * Write the layer tar of `diffDir` to `out` (a stream, ended when done, or a file path),
 * hashing the uncompressed and the compressed bytes in the same pass.
 */
export async function writeLayerTar(
  diffDir: string,
  out: Writable | string,
  options: LayerWriteOptions,
): Promise<LayerWriteResult> {
  return compressLayerTar(generateLayerTar(diffDir, options), out, options);
}

/**
 * Compress an uncompressed layer tar (from a snapshot, or another blob of the same layer
 * decompressed) to `out`, hashing both sides. Uncompressed output is hashed once: its
 * digest is the diff ID.
 */
export async function compressLayerTar(
  tar: AsyncIterable<Buffer>,
  out: Writable | string,
  options: Pick<LayerWriteOptions, 'compression' | 'compressionLevel'>,
): Promise<LayerWriteResult> {
  const tarHash = createHash('sha256');
  const blobHash = createHash('sha256');
  let tarSize = 0;
  let blobSize = 0;
  const sink = typeof out === 'string' ? createWriteStream(out) : out;
  async function* hashTar(source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      tarHash.update(chunk);
      tarSize += chunk.length;
      yield chunk;
    }
  }
  const compressor = createCompressor(options.compression, options.compressionLevel);
  if (compressor === undefined) await pipeline(Readable.from(tar), hashTar, sink);
  else {
    await pipeline(
      Readable.from(tar),
      hashTar,
      compressor,
      async function* hashBlob(source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          blobHash.update(chunk);
          blobSize += chunk.length;
          yield chunk;
        }
      },
      sink,
    );
  }
  const diffId: Digest = `sha256:${tarHash.digest('hex')}`;
  return {
    diffId,
    digest: compressor === undefined ? diffId : `sha256:${blobHash.digest('hex')}`,
    size: compressor === undefined ? tarSize : blobSize,
    uncompressedSize: tarSize,
    mediaType: ociLayerMediaType(options.compression),
  };
}

/** The uncompressed layer tar of `diffDir`, chunk by chunk. */
export async function* generateLayerTar(
  diffDir: string,
  options: Pick<LayerWriteOptions, 'sourceDateEpoch' | 'rewriteTimestamps'> = {},
): AsyncGenerator<Buffer> {
  const clamp = (stat: Stats): number => {
    const seconds = Math.floor(stat.mtimeMs / 1000);
    const epoch = options.sourceDateEpoch;
    return options.rewriteTimestamps && epoch !== undefined ? Math.min(seconds, epoch) : seconds;
  };
  let xattrs: XattrMap | undefined;
  const firstLinks = new Map<string, string>();
  const walk = walkTree(diffDir)[Symbol.asyncIterator]();
  // Entries in tar order, with the contents of small files already being read: one file at
  // a time costs several thread-pool round trips each (open, stat, read, close), which for
  // 20,000 small files is most of a layer's time.
  const ahead: Pending[] = [];
  let aheadBytes = 0;
  let walked = false;
  const fill = async (): Promise<void> => {
    while (!walked && ahead.length < READ_AHEAD_ENTRIES && aheadBytes < READ_AHEAD_BYTES) {
      const next = await walk.next();
      if (next.done) {
        walked = true;
        break;
      }
      const item = next.value;
      // One getfattr run for the whole layer, only once it is known not to be empty.
      xattrs ??= await readXattrs(diffDir);
      const attrs = xattrs.get(item.abs);
      const entry = await toTarEntry(item, clamp(item.stat), attrs, firstLinks);
      if (entry === undefined) continue;
      const pending: Pending = {
        item,
        entry,
        opaque: attrs?.get(overlayOpaqueXattr())?.toString() === 'y',
      };
      if (entry.type === 'file' && entry.size > 0 && entry.size <= READ_AHEAD_FILE) {
        pending.content =
          entry.size <= SYNC_READ_FILE ? readSmallFile(item.abs) : readFile(item.abs);
        // Reported when its turn comes; until then it must not count as unhandled.
        pending.content.catch(() => undefined);
        aheadBytes += entry.size;
      }
      ahead.push(pending);
    }
  };
  for (await fill(); ahead.length > 0; await fill()) {
    const { item, entry, content, opaque } = ahead.shift()!;
    yield encodeEntryHeader(entry);
    if (entry.type === 'file' && entry.size > 0) {
      if (content !== undefined) {
        aheadBytes -= entry.size;
        yield exactSize(item.abs, await content, entry.size);
      } else {
        yield* streamContent(item.abs, entry.size);
      }
      const pad = padding(entry.size);
      if (pad > 0) yield Buffer.alloc(pad);
    }
    if (entry.type === 'dir' && opaque) {
      yield encodeEntryHeader(whiteoutEntry(`${item.rel}/.wh..wh..opq`, entry.mtime));
    }
  }
  yield endOfArchive();
}

interface Pending {
  item: WalkEntry;
  entry: TarEntry;
  /** A small file's content, being read. */
  content?: Promise<Buffer>;
  /** A directory overlayfs marked opaque. */
  opaque: boolean;
}

/** Whiteouts are empty regular files, mode 0600, as Docker writes them. */
function whiteoutEntry(path: string, mtime: number, uid = 0, gid = 0): TarEntry {
  return { path, type: 'file', mode: 0o600, uid, gid, size: 0, mtime };
}

async function toTarEntry(
  item: WalkEntry,
  mtime: number,
  attrs: Map<string, Buffer> | undefined,
  firstLinks: Map<string, string>,
): Promise<TarEntry | undefined> {
  const { stat, rel } = item;
  if (stat.isCharacterDevice() && stat.rdev === 0) {
    const slash = rel.lastIndexOf('/');
    const name = `${rel.slice(0, slash + 1)}.wh.${rel.slice(slash + 1)}`;
    return whiteoutEntry(name, mtime, stat.uid, stat.gid);
  }
  const xattrs = new Map([...(attrs ?? [])].filter(([name]) => !isOverlayXattr(name)));
  const base: TarEntry = {
    path: rel,
    type: 'file',
    mode: stat.mode & 0o7777,
    uid: stat.uid,
    gid: stat.gid,
    size: 0,
    mtime,
    ...(xattrs.size > 0 ? { xattrs } : {}),
  };
  if (stat.isDirectory()) return { ...base, type: 'dir' };
  if (stat.isSymbolicLink())
    return { ...base, type: 'symlink', linkpath: await readlink(item.abs) };
  if (stat.isFIFO()) return { ...base, type: 'fifo' };
  if (stat.isCharacterDevice() || stat.isBlockDevice()) {
    const { major, minor } = splitDevice(stat.rdev);
    const type = stat.isCharacterDevice() ? 'char' : 'block';
    return { ...base, type, devmajor: major, devminor: minor };
  }
  if (!stat.isFile()) return undefined; // sockets cannot be carried in a tar (Docker skips them too)
  if (stat.nlink > 1) {
    const key = `${stat.dev}:${stat.ino}`;
    const first = firstLinks.get(key);
    if (first !== undefined) return { ...base, type: 'link', linkpath: first };
    firstLinks.set(key, rel);
  }
  return { ...base, size: stat.size };
}

function readSmallFile(path: string): Promise<Buffer> {
  try {
    return Promise.resolve(readFileSync(path));
  } catch (error) {
    return Promise.reject(error as Error);
  }
}

function changedSize(path: string): LayerWriteError {
  return new LayerWriteError(`file ${path} changed size while its layer was being written`);
}

/** The first `size` bytes of a file read whole, failing if it shrank since it was stat'ed. */
function exactSize(path: string, data: Buffer, size: number): Buffer {
  if (data.length < size) throw changedSize(path);
  return data.subarray(0, size);
}

/** Exactly `size` bytes of a large file, failing if it shrank since it was stat'ed. */
async function* streamContent(path: string, size: number): AsyncGenerator<Buffer> {
  let read = 0;
  for await (const chunk of createReadStream(path, { end: size - 1 })) {
    read += (chunk as Buffer).length;
    yield chunk as Buffer;
  }
  if (read !== size) throw changedSize(path);
}
