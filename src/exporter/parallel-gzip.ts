/**
 * Deterministic parallel gzip, pigz style: the input is cut into fixed-size chunks, each chunk is
 * raw-deflated on libuv's thread pool with the previous chunk's last 32 KiB as its dictionary, and
 * the pieces are written in order as ONE standard gzip member. Every chunk but the last ends with a
 * sync flush (an empty stored block), so the pieces concatenate into a single deflate stream; the
 * CRC-32 of the whole input is computed serially, which is cheap next to deflate.
 *
 * A chunk that deflate cannot shrink (already compressed or random data: archives, images, media)
 * is stored instead: deflate would spend ~20 ms per MiB of CPU to save nothing. Whether a chunk is
 * such is judged from samples of the chunk itself (see isIncompressible).
 *
 * The bytes depend only on the input, the level and the chunk size (never on timing or on how the
 * input was split into writes), so builds stay reproducible.
 */
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { zlib, type Zlib } from './zlib.ts';

/** Uncompressed bytes per chunk: large enough that the per-chunk cost and ratio loss vanish. */
export const GZIP_CHUNK_SIZE = 1024 * 1024;

/** Deflate's window: the most a back-reference can reach, so the most a dictionary can help. */
const WINDOW = 32 * 1024;

export interface ParallelGzipOptions {
  /** zlib level 0-9; 6 (zlib's default) when omitted. */
  level?: number;
  /** Uncompressed bytes per chunk. Part of the output's identity: change it and the bytes change. */
  chunkSize?: number;
  /** Chunks compressing at once (default: cores + 1, at most 4); memory is about 2 × this × chunkSize. */
  concurrency?: number;
}

/** A transform that gzips its input on several threads; equal input gives equal bytes. */
export function createParallelGzip(options: ParallelGzipOptions = {}): Transform {
  return new ParallelGzip(options);
}

class ParallelGzip extends Transform {
  readonly #level: number;
  readonly #chunkSize: number;
  readonly #concurrency: number;
  #pending: Buffer[] = [];
  #pendingLength = 0;
  #dictionary: Buffer | undefined;
  /** Compressed chunks in input order; only the oldest is ever awaited. */
  readonly #inFlight: Promise<Buffer>[] = [];
  #crc = 0;
  #size = 0;
  #headerSent = false;

  constructor(options: ParallelGzipOptions) {
    super();
    this.#level = options.level ?? 6;
    this.#chunkSize = options.chunkSize ?? GZIP_CHUNK_SIZE;
    // One more chunk than cores keeps every core busy while the main thread hashes and emits;
    // more than libuv's 4 pool threads would only queue (and delay the fs reads feeding us).
    this.#concurrency = options.concurrency ?? Math.min(availableParallelism() + 1, 4);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#crc = zlib().crc32(chunk, this.#crc);
    this.#size += chunk.length;
    this.#pending.push(chunk);
    this.#pendingLength += chunk.length;
    this.#compressFullChunks().then(() => done(), done);
  }

  /** Start every full chunk, waiting for room so a large write cannot flood the pool. */
  async #compressFullChunks(): Promise<void> {
    while (this.#pendingLength >= this.#chunkSize) {
      this.#startChunk(this.#takeChunk(), false);
      await this.#drain(this.#concurrency - 1);
    }
  }

  override _flush(done: TransformCallback): void {
    this.#startChunk(this.#takeChunk(), true);
    this.#drain(0).then(() => {
      this.push(trailer(this.#crc, this.#size));
      done();
    }, done);
  }

  /** The next `chunkSize` pending bytes (or all of them, at the end). */
  #takeChunk(): Buffer {
    const all = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
    const chunk = all.subarray(0, this.#chunkSize);
    const rest = all.subarray(chunk.length);
    this.#pending = rest.length > 0 ? [rest] : [];
    this.#pendingLength = rest.length;
    return chunk;
  }

  #startChunk(chunk: Buffer, last: boolean): void {
    const job = deflateChunk(chunk, this.#dictionary, this.#level, last);
    // A later chunk may fail while an earlier one is awaited; its error surfaces when its turn comes.
    job.catch(() => undefined);
    this.#inFlight.push(job);
    this.#dictionary = chunk.subarray(Math.max(0, chunk.length - WINDOW));
  }

  /** Emit finished chunks in order until at most `keep` are still compressing. */
  async #drain(keep: number): Promise<void> {
    while (this.#inFlight.length > keep) {
      const compressed = await this.#inFlight[0]!;
      this.#inFlight.shift();
      if (!this.#headerSent) {
        this.push(header(this.#level));
        this.#headerSent = true;
      }
      this.push(compressed);
    }
  }
}

const SAMPLES = 4;
const SAMPLE_SIZE = 4096;

/**
 * True when every one of four 4 KiB samples spread over the chunk stays at least 98 % of its
 * size under fast deflate. A chunk with any compressible part keeps the requested level. It
 * costs ~0.3 ms per MiB on the main thread, against ~20 ms of deflate it may save.
 */
export function isIncompressible(data: Buffer): boolean {
  if (data.length < SAMPLES * SAMPLE_SIZE) return false;
  const step = Math.floor(data.length / SAMPLES);
  for (let i = 0; i < SAMPLES; i++) {
    const sample = data.subarray(i * step, i * step + SAMPLE_SIZE);
    const packed = zlib().deflateRawSync(sample, { level: 1 });
    if (packed.length < sample.length * 0.98) return false;
  }
  return true;
}

/** Raw-deflate one chunk on the thread pool; non-final chunks end byte-aligned (sync flush). */
function deflateChunk(
  data: Buffer,
  dictionary: Buffer | undefined,
  level: number,
  last: boolean,
): Promise<Buffer> {
  const options: Zlib.ZlibOptions = {
    level: level > 0 && isIncompressible(data) ? 0 : level,
    finishFlush: last ? zlib().constants.Z_FINISH : zlib().constants.Z_SYNC_FLUSH,
    // One output buffer that fits the worst case, so zlib runs the chunk in a single pool task.
    chunkSize: Math.max(64 * 1024, data.length + (data.length >> 8) + 1024),
    ...(dictionary !== undefined && dictionary.length > 0 ? { dictionary } : {}),
  };
  return new Promise((resolve, reject) => {
    zlib().deflateRaw(data, options, (error, out) => (error ? reject(error) : resolve(out)));
  });
}

/** The 10-byte member header zlib itself writes: no name, mtime 0, OS = Unix. */
function header(level: number): Buffer {
  // XFL as zlib sets it: 2 = slowest (level 9), 4 = fastest (levels 0-1), else 0.
  const xfl = level === 9 ? 2 : level < 2 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]);
}

/** CRC-32 and length (mod 2^32) of the uncompressed data, little-endian. */
function trailer(crc: number, size: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt32LE(crc >>> 0, 0);
  out.writeUInt32LE(size % 2 ** 32, 4);
  return out;
}
