/**
 * Write a layer directory (overlayfs upperdir form) as an OCI layer tar: whiteout devices
 * become `.wh.<name>` files, opaque directories get a `.wh..wh..opq` entry, hard links,
 * devices, FIFOs and extended attributes are kept. The walk is sorted and headers carry no
 * host-specific data, so an unchanged tree always gives the same bytes.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type Stats } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import { PassThrough, Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Digest } from '../shared/digest.ts';
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

const OPAQUE_XATTR = 'trusted.overlay.opaque';
const SMALL_FILE = 64 * 1024;

/**
 * Write the layer tar of `diffDir` to `out` (a stream, ended when done, or a file path),
 * hashing the uncompressed and the compressed bytes in the same pass.
 */
export async function writeLayerTar(
  diffDir: string,
  out: Writable | string,
  options: LayerWriteOptions,
): Promise<LayerWriteResult> {
  const tarHash = createHash('sha256');
  const blobHash = createHash('sha256');
  let tarSize = 0;
  let blobSize = 0;
  const compressor =
    createCompressor(options.compression, options.compressionLevel) ?? new PassThrough();
  await pipeline(
    Readable.from(generateLayerTar(diffDir, options)),
    async function* hashTar(source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        tarHash.update(chunk);
        tarSize += chunk.length;
        yield chunk;
      }
    },
    compressor,
    async function* hashBlob(source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        blobHash.update(chunk);
        blobSize += chunk.length;
        yield chunk;
      }
    },
    typeof out === 'string' ? createWriteStream(out) : out,
  );
  return {
    diffId: `sha256:${tarHash.digest('hex')}`,
    digest: `sha256:${blobHash.digest('hex')}`,
    size: blobSize,
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
  for await (const item of walkTree(diffDir)) {
    // One getfattr run for the whole layer, only once it is known not to be empty.
    xattrs ??= await readXattrs(diffDir);
    const attrs = xattrs.get(item.abs);
    const entry = await toTarEntry(item, clamp(item.stat), attrs, firstLinks);
    if (entry === undefined) continue;
    yield encodeEntryHeader(entry);
    if (entry.type === 'file' && entry.size > 0) {
      yield* readContent(item.abs, entry.size);
      const pad = padding(entry.size);
      if (pad > 0) yield Buffer.alloc(pad);
    }
    if (entry.type === 'dir' && attrs?.get(OPAQUE_XATTR)?.toString() === 'y') {
      yield encodeEntryHeader(whiteoutEntry(`${item.rel}/.wh..wh..opq`, entry.mtime));
    }
  }
  yield endOfArchive();
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

/** Exactly `size` bytes of a file, failing if it shrank since it was stat'ed. */
async function* readContent(path: string, size: number): AsyncGenerator<Buffer> {
  let read = 0;
  if (size <= SMALL_FILE) {
    const data = await readFile(path);
    read = Math.min(data.length, size);
    yield data.subarray(0, read);
  } else {
    for await (const chunk of createReadStream(path, { end: size - 1 })) {
      read += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  }
  if (read !== size) {
    throw new LayerWriteError(`file ${path} changed size while its layer was being written`);
  }
}
