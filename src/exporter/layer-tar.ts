/**
 * The layer tar of a directory (overlayfs upperdir form), made with synchronous calls:
 * whiteout devices become `.wh.<name>` files, opaque directories get a `.wh..wh..opq`
 * entry, hard links, devices, FIFOs and extended attributes are kept. The walk is sorted
 * and headers carry no host-specific data, so an unchanged tree always gives the same bytes.
 *
 * Synchronous on purpose: per entry this is a few microseconds of system calls (lstat,
 * open, read, close), where async calls cost a thread-pool round trip each, and a
 * 20,000-file layer hashed 3–4× slower that way. Large layers run it in a worker thread
 * (layer-tar-worker.ts); small ones in process, a chunk per event-loop turn.
 */
import { closeSync, openSync, readdirSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { overlayOpaqueXattr } from '../shared/userns.ts';
import { LayerWriteError } from './errors.ts';
import {
  BLOCK,
  encodeEntryHeader,
  endOfArchive,
  padding,
  writePlainHeader,
  type TarEntry,
} from './tar-format.ts';
import { splitDevice } from './tools.ts';
import { walkTreeSync, type WalkEntry } from './tree-walk.ts';
import { isOverlayXattr, readXattrs, type XattrMap } from './xattrs.ts';

export interface LayerTarOptions {
  /** SOURCE_DATE_EPOCH in seconds. */
  sourceDateEpoch?: number;
  /** Clamp every mtime to `sourceDateEpoch` (BuildKit's rewrite-timestamp). */
  rewriteTimestamps?: boolean;
}

/**
 * What a layer holds, counted on the way: the apparent size of its files and symlinks,
 * each hard-linked inode once (what `docker images` calls SIZE; the store's measureTree
 * counts the same).
 */
export interface LayerTally {
  contentBytes: number;
}

/** Output comes in chunks of about this size. */
export const CHUNK_BYTES = 1024 * 1024;

/**
 * Every extended attribute in the layer, none for an empty layer: one getfattr run, or
 * `read` (the engine's early read tries the mount helper first).
 */
export async function layerXattrs(
  diffDir: string,
  read: (dir: string) => Promise<XattrMap> = readXattrs,
): Promise<XattrMap> {
  return readdirSync(diffDir).length === 0 ? new Map() : read(diffDir);
}

/**
 * Where chunks are written: `fresh` allocates each one; a function hands out the memory
 * of each next chunk (at least CHUNK_BYTES; more leaves room for a header past the chunk
 * size), asked when the chunk before was taken and more output comes. The hash worker's
 * are the slots of its ring (layer-tar-worker.ts).
 */
export type ChunkMemory = 'fresh' | (() => Buffer);

/** The uncompressed layer tar of `diffDir` in chunks of about CHUNK_BYTES. */
export function* layerTarChunks(
  diffDir: string,
  xattrs: XattrMap,
  options: LayerTarOptions = {},
  memory: ChunkMemory = 'fresh',
  tally?: LayerTally,
): Generator<Buffer> {
  const clamp = (stat: Stats): number => {
    const seconds = Math.floor(stat.mtimeMs / 1000);
    const epoch = options.sourceDateEpoch;
    return options.rewriteTimestamps && epoch !== undefined ? Math.min(seconds, epoch) : seconds;
  };
  const firstLinks = new Map<string, string>();
  const out = new ChunkBuffer(memory);
  for (const item of walkTreeSync(diffDir)) {
    const attrs = xattrs.get(item.abs);
    const entry = toTarEntry(item, clamp(item.stat), attrs, firstLinks);
    if (entry === undefined) continue;
    if (tally && (entry.type === 'file' || entry.type === 'symlink'))
      tally.contentBytes += item.stat.size;
    out.header(entry);
    if (entry.type === 'file' && entry.size > 0) {
      yield* out.appendFile(item.abs, entry.size);
      out.zeros(padding(entry.size));
    }
    if (entry.type === 'dir' && attrs?.get(overlayOpaqueXattr())?.toString() === 'y') {
      out.header(opaqueMarker(entry));
    }
    if (out.full()) yield out.take();
  }
  out.append(endOfArchive());
  yield out.take();
}

/**
 * Output gathered in chunk buffers; file content is read straight into them, so no byte is
 * copied twice. A chunk's memory comes from `memory` when its first byte is written.
 */
class ChunkBuffer {
  readonly #next: () => Buffer;
  #buf: Buffer | undefined;
  #pos = 0;

  constructor(memory: ChunkMemory) {
    this.#next = memory === 'fresh' ? () => Buffer.allocUnsafe(CHUNK_BYTES) : memory;
  }

  full(): boolean {
    return this.#pos >= CHUNK_BYTES;
  }

  take(): Buffer {
    const chunk = (this.#buf ?? Buffer.alloc(0)).subarray(0, this.#pos);
    this.#buf = undefined;
    this.#pos = 0;
    return chunk;
  }

  /** Small pieces (headers): may overshoot the chunk size, which take() allows for. */
  append(data: Buffer): void {
    const buf = this.#room(data.length);
    data.copy(buf, this.#pos);
    this.#pos += data.length;
  }

  /** An entry's header, written in place when it is one plain block. */
  header(entry: TarEntry): void {
    if (writePlainHeader(entry, this.#room(BLOCK), this.#pos)) this.#pos += BLOCK;
    else this.append(encodeEntryHeader(entry));
  }

  zeros(count: number): void {
    if (count <= 0) return;
    this.#room(count).fill(0, this.#pos, this.#pos + count);
    this.#pos += count;
  }

  /** Exactly `size` bytes of a file, yielding full chunks; fails if the file shrank. */
  *appendFile(path: string, size: number): Generator<Buffer> {
    const fd = openSync(path, 'r');
    try {
      let read = 0;
      while (read < size) {
        if (this.full()) yield this.take();
        const buf = this.#room(1);
        // Up to the chunk size: memory past it is room for headers.
        const room = Math.min(CHUNK_BYTES - this.#pos, size - read);
        const n = readSync(fd, buf, this.#pos, room, read);
        if (n === 0) throw changedSize(path);
        this.#pos += n;
        read += n;
      }
    } finally {
      closeSync(fd);
    }
  }

  /** The buffer being written, with room for `bytes` more (grown past the chunk if need be). */
  #room(bytes: number): Buffer {
    const buf = (this.#buf ??= this.#next());
    if (this.#pos + bytes <= buf.length) return buf;
    const grown = Buffer.allocUnsafe(this.#pos + bytes);
    buf.copy(grown, 0, 0, this.#pos);
    return (this.#buf = grown);
  }
}

/** Whiteouts are empty regular files, mode 0600, as Docker writes them. */
function whiteoutEntry(path: string, mtime: number, uid = 0, gid = 0): TarEntry {
  return { path, type: 'file', mode: 0o600, uid, gid, size: 0, mtime };
}

/**
 * An opaque directory's `.wh..wh..opq`, as Docker writes it (moby's overlay whiteout
 * converter, also under BuildKit 28.5): an empty file with the directory's permission bits
 * (no set-id or sticky bits), owner and group, and a zero mtime.
 */
function opaqueMarker(dir: TarEntry): TarEntry {
  return {
    path: `${dir.path}/.wh..wh..opq`,
    type: 'file',
    mode: dir.mode & 0o777,
    uid: dir.uid,
    gid: dir.gid,
    size: 0,
    mtime: 0,
  };
}

function toTarEntry(
  item: WalkEntry,
  mtime: number,
  attrs: Map<string, Buffer> | undefined,
  firstLinks: Map<string, string>,
): TarEntry | undefined {
  const { stat, rel } = item;
  if (stat.isCharacterDevice() && stat.rdev === 0) {
    const slash = rel.lastIndexOf('/');
    const name = `${rel.slice(0, slash + 1)}.wh.${rel.slice(slash + 1)}`;
    return whiteoutEntry(name, mtime, stat.uid, stat.gid);
  }
  const xattrs = keptXattrs(attrs);
  const base: TarEntry = {
    path: rel,
    type: 'file',
    mode: stat.mode & 0o7777,
    uid: stat.uid,
    gid: stat.gid,
    size: 0,
    mtime,
    ...(xattrs && { xattrs }),
  };
  if (stat.isDirectory()) return { ...base, type: 'dir' };
  if (stat.isSymbolicLink()) return { ...base, type: 'symlink', linkpath: readlinkSync(item.abs) };
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

/** The attributes a layer carries: not overlayfs's own; undefined when none are left. */
function keptXattrs(attrs: Map<string, Buffer> | undefined): Map<string, Buffer> | undefined {
  if (attrs === undefined) return undefined;
  const kept = new Map([...attrs].filter(([name]) => !isOverlayXattr(name)));
  return kept.size > 0 ? kept : undefined;
}

function changedSize(path: string): LayerWriteError {
  return new LayerWriteError(`file ${path} changed size while its layer was being written`);
}
