/**
 * A streaming tar reader: ustar, PAX (`x`, `g`, with `SCHILY.xattr.*`) and GNU long names.
 * Entry bodies are streamed, never buffered whole, so multi-gigabyte layers unpack in
 * constant memory.
 */
import { TarFormatError } from './errors.ts';
import {
  BLOCK,
  decodeHeader,
  decodePaxRecords,
  padding,
  type RawHeader,
  type TarEntry,
  type TarEntryType,
} from './tar-format.ts';

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'link',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

/** Reads exact byte counts from an async stream of chunks. */
class ByteReader {
  readonly #it: AsyncIterator<Uint8Array>;
  #buf: Buffer = Buffer.alloc(0);
  #done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#it = source[Symbol.asyncIterator]();
  }

  async #pull(): Promise<boolean> {
    if (this.#done) return false;
    const next = await this.#it.next();
    if (next.done) {
      this.#done = true;
      return false;
    }
    const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    return true;
  }

  /** Exactly `n` bytes, or fewer only at end of stream. */
  async read(n: number): Promise<Buffer> {
    while (this.#buf.length < n && (await this.#pull()));
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(out.length);
    return out;
  }

  async readExact(n: number, what: string): Promise<Buffer> {
    const out = await this.read(n);
    if (out.length < n) throw new TarFormatError(`tar archive is truncated inside ${what}`);
    return out;
  }

  /** Up to `n` bytes as they arrive. */
  async *take(n: number, what: string): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.#buf.length === 0 && !(await this.#pull())) {
        throw new TarFormatError(`tar archive is truncated inside ${what}`);
      }
      const out = this.#buf.subarray(0, left);
      this.#buf = this.#buf.subarray(out.length);
      left -= out.length;
      yield out;
    }
  }

  async skip(n: number, what: string): Promise<void> {
    for await (const _ of this.take(n, what));
  }

  /** Read to the end of the stream (so a hash over it is complete). */
  async drain(): Promise<void> {
    this.#buf = Buffer.alloc(0);
    while (await this.#pull()) this.#buf = Buffer.alloc(0);
  }
}

/** Called per entry; the body must be consumed before returning (or it is skipped). */
export type TarEntryHandler = (entry: TarEntry, body: AsyncIterable<Buffer>) => Promise<void>;

/**
 * Read every entry of an uncompressed tar stream, in order, then drain the stream to its
 * end. Throws TarFormatError on corrupt or unsupported input.
 */
export async function readTarEntries(
  source: AsyncIterable<Uint8Array>,
  onEntry: TarEntryHandler,
): Promise<void> {
  const reader = new ByteReader(source);
  let local = new Map<string, Buffer>();
  const global = new Map<string, Buffer>();
  for (;;) {
    const block = await reader.read(BLOCK);
    if (block.length === 0) break; // some writers omit the end-of-archive marker
    if (block.length < BLOCK) throw new TarFormatError('tar archive ends inside a header');
    const raw = decodeHeader(block);
    if (raw === null) break;
    const what = `entry "${raw.name}"`;
    if (
      raw.typeflag === 'x' ||
      raw.typeflag === 'g' ||
      raw.typeflag === 'L' ||
      raw.typeflag === 'K'
    ) {
      const body = await reader.readExact(raw.size, what);
      await reader.skip(padding(raw.size), what);
      if (raw.typeflag === 'x') local = new Map([...local, ...decodePaxRecords(body)]);
      else if (raw.typeflag === 'g') for (const [k, v] of decodePaxRecords(body)) global.set(k, v);
      else local.set(raw.typeflag === 'L' ? 'path' : 'linkpath', cString(body));
      continue;
    }
    const entry = applyExtended(raw, new Map([...global, ...local]));
    local = new Map();
    const dataSize = entry.type === 'file' ? entry.size : 0;
    const counter = { left: dataSize };
    await onEntry(entry, countedBody(reader, counter, what));
    // Skip what the handler left unread (it may not read the body, or stop early).
    await reader.skip(counter.left + padding(dataSize), what);
  }
  await reader.drain();
}

async function* countedBody(
  reader: ByteReader,
  counter: { left: number },
  what: string,
): AsyncGenerator<Buffer> {
  for await (const chunk of reader.take(counter.left, what)) {
    counter.left -= chunk.length; // before yield: a consumer may stop at any chunk
    yield chunk;
  }
}

function cString(b: Buffer): Buffer {
  const end = b.indexOf(0);
  return end === -1 ? b : b.subarray(0, end);
}

function applyExtended(raw: RawHeader, ext: Map<string, Buffer>): TarEntry {
  const type = TYPES[raw.typeflag];
  if (type === undefined) {
    throw new TarFormatError(
      `tar entry "${raw.name}" has unsupported type "${raw.typeflag}" (sparse and volume entries are not supported)`,
    );
  }
  const num = (key: string, fallback: number): number => {
    const v = ext.get(key);
    if (v === undefined) return fallback;
    const n = Number(v.toString('latin1'));
    if (!Number.isFinite(n))
      throw new TarFormatError(`tar PAX ${key} "${v.toString()}" is not a number`);
    return n;
  };
  const xattrs = new Map<string, Buffer>();
  for (const [key, value] of ext) {
    if (key.startsWith('SCHILY.xattr.')) xattrs.set(key.slice('SCHILY.xattr.'.length), value);
  }
  const path = ext.get('path')?.toString('utf8') ?? raw.name;
  const linkpath = ext.get('linkpath')?.toString('utf8') ?? raw.linkname;
  return {
    path,
    type: type === 'file' && path.endsWith('/') ? 'dir' : type,
    mode: raw.mode & 0o7777,
    uid: num('uid', raw.uid),
    gid: num('gid', raw.gid),
    size: num('size', raw.size),
    mtime: Math.floor(num('mtime', raw.mtime)),
    ...(type === 'link' || type === 'symlink' ? { linkpath } : {}),
    ...(type === 'char' || type === 'block'
      ? { devmajor: raw.devmajor, devminor: raw.devminor }
      : {}),
    ...(xattrs.size > 0 ? { xattrs } : {}),
  };
}
