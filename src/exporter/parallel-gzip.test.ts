import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  createParallelGzip,
  GZIP_CHUNK_SIZE,
  isIncompressible,
  type ParallelGzipOptions,
} from './parallel-gzip.ts';

/** Compressible but not trivial input: pseudo-random words from a fixed seed. */
function makeText(size: number, seed = 1): Buffer {
  const words = ['layer', 'tar', 'gzip', 'chunk', 'digest', 'overlay', 'sha256', 'root', '\n'];
  const out = Buffer.alloc(size);
  let state = seed;
  for (let at = 0; at < size;) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    at += out.write(`${words[state % words.length]}${state % 97} `, at);
  }
  return out;
}

/** Gzip `input`, handed to the stream in writes of `writeSize` bytes. */
async function gzipInPieces(
  input: Buffer,
  writeSize: number,
  options?: ParallelGzipOptions,
): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let at = 0; at < input.length; at += writeSize) {
    pieces.push(input.subarray(at, at + writeSize));
  }
  return buffer(Readable.from(pieces).pipe(createParallelGzip(options)));
}

/** The member is one deflate stream ending exactly before an 8-byte CRC/size trailer. */
function expectSingleMember(gz: Buffer, input: Buffer): void {
  expect([...gz.subarray(0, 4)]).toEqual([0x1f, 0x8b, 8, 0]);
  expect(zlib.inflateRawSync(gz.subarray(10, -8)).equals(input)).toBe(true);
  expect(gz.readUInt32LE(gz.length - 8)).toBe(zlib.crc32(input));
  expect(gz.readUInt32LE(gz.length - 4)).toBe(input.length);
}

describe('createParallelGzip', () => {
  it('round-trips a multi-megabyte input that crosses several chunk boundaries', async () => {
    const input = makeText(3 * GZIP_CHUNK_SIZE + 12_345);
    const gz = await gzipInPieces(input, 64 * 1024);
    expect(zlib.gunzipSync(gz).equals(input)).toBe(true);
    expectSingleMember(gz, input);
    // gzip(1) agrees: the stream is valid and carries the right CRC and length.
    expect(execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 64 << 20 }).equals(input)).toBe(
      true,
    );
  });

  it('gives byte-identical output for the same input however it is split into writes', async () => {
    const input = makeText(2 * GZIP_CHUNK_SIZE + 777, 7);
    const first = await gzipInPieces(input, 64 * 1024);
    expect((await gzipInPieces(input, 1000)).equals(first)).toBe(true);
    expect((await gzipInPieces(input, input.length)).equals(first)).toBe(true);
    expect((await gzipInPieces(input, 64 * 1024, { concurrency: 1 })).equals(first)).toBe(true);
  });

  it('writes a valid, reproducible gzip for an empty input', async () => {
    const empty = await buffer(Readable.from([]).pipe(createParallelGzip()));
    expect(zlib.gunzipSync(empty).length).toBe(0);
    expectSingleMember(empty, Buffer.alloc(0));
    // mtime 0, no name, OS byte Unix, as zlib writes it: nothing about the host or time leaks in.
    expect(empty.equals(zlib.gzipSync(Buffer.alloc(0)))).toBe(true);
  });

  it('handles inputs that end exactly on a chunk boundary and chunks smaller than the window', async () => {
    const input = makeText(40 * 4096, 3);
    for (const chunkSize of [4096, 40 * 4096]) {
      const gz = await gzipInPieces(input, 5000, { chunkSize });
      expectSingleMember(gz, input);
    }
  });

  it('stores chunks that deflate cannot shrink, and compresses the rest of the stream', async () => {
    // Pseudo-random bytes from a fixed seed: incompressible, and the same on every run.
    const random = Buffer.alloc(2 * GZIP_CHUNK_SIZE);
    let state = 42;
    for (let i = 0; i < random.length; i++) {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      random[i] = state >>> 16;
    }
    expect(isIncompressible(random.subarray(0, GZIP_CHUNK_SIZE))).toBe(true);
    const text = makeText(GZIP_CHUNK_SIZE, 5);
    expect(isIncompressible(text)).toBe(false);
    // One chunk random but for a compressible quarter: not judged incompressible.
    const mixed = Buffer.concat([
      random.subarray(0, (3 * GZIP_CHUNK_SIZE) / 4),
      text.subarray(0, GZIP_CHUNK_SIZE / 4),
    ]);
    expect(isIncompressible(mixed)).toBe(false);

    const input = Buffer.concat([random, text, mixed]);
    const gz = await gzipInPieces(input, 64 * 1024);
    expectSingleMember(gz, input);
    expect(execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 64 << 20 }).equals(input)).toBe(
      true,
    );
    // Stored chunks cost a few bytes per 64 KiB block; the text still shrinks as before.
    const storedOverhead = 2 * GZIP_CHUNK_SIZE * 0.001;
    const textAlone = (await gzipInPieces(text, 64 * 1024)).length;
    expect(gz.length).toBeLessThan(random.length + storedOverhead + textAlone + mixed.length);
    expect((await gzipInPieces(input, 1000)).equals(gz)).toBe(true);
  });

  it('compresses about as well as single-threaded gzip at the same level', async () => {
    const input = makeText(3 * GZIP_CHUNK_SIZE, 11);
    for (const level of [1, 6, 9]) {
      const parallel = await gzipInPieces(input, 64 * 1024, { level });
      const serial = zlib.gzipSync(input, { level });
      expect(parallel.length).toBeLessThan(serial.length * 1.01);
      // The XFL byte matches what zlib writes for the level.
      expect(parallel[8]).toBe(serial[8]);
    }
  });
});
