/**
 * Layer compression: gzip (chunked over several threads, see parallel-gzip.ts) and zstd
 * through node:zlib, media types for each, and detection of a compressed stream by its magic bytes.
 */
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream';
import { MediaType } from '../shared/oci.ts';
import { ImageExportError } from './errors.ts';
import { createParallelGzip } from './parallel-gzip.ts';
import { zlib } from './zlib.ts';

export type Compression = 'gzip' | 'zstd' | 'uncompressed';

/** A compressing transform; `undefined` for uncompressed. Output is deterministic. */
export function createCompressor(compression: Compression, level?: number): Transform | undefined {
  if (compression === 'uncompressed') return undefined;
  // Chunked on several threads, one gzip member with mtime 0 and a fixed OS byte: equal input
  // gives equal bytes, whatever the machine's core count.
  if (compression === 'gzip') return createParallelGzip(level === undefined ? {} : { level });
  return zlib().createZstdCompress({
    params: { [zlib().constants.ZSTD_c_compressionLevel]: level ?? 3 },
  });
}

/** The OCI media type of a layer with this compression. */
export function ociLayerMediaType(compression: Compression): string {
  if (compression === 'gzip') return MediaType.OciLayerGzip;
  if (compression === 'zstd') return MediaType.OciLayerZstd;
  return MediaType.OciLayer;
}

/**
 * The OCI media type of a layer given in Docker's (a base image's layer in an OCI
 * manifest): the same bytes, as BuildKit converts them. Other types are kept.
 */
export function ociLayerMediaTypeOf(mediaType: string): string {
  if (mediaType === MediaType.DockerLayerGzip) return MediaType.OciLayerGzip;
  if (mediaType === MediaType.DockerLayer) return MediaType.OciLayer;
  return mediaType;
}

/** The Docker v2 media type for a layer; Docker has none for zstd. */
export function dockerLayerMediaType(ociMediaType: string): string {
  if (ociMediaType === MediaType.OciLayerGzip || ociMediaType === MediaType.DockerLayerGzip) {
    return MediaType.DockerLayerGzip;
  }
  if (ociMediaType === MediaType.OciLayer || ociMediaType === MediaType.DockerLayer) {
    return MediaType.DockerLayer;
  }
  throw new ImageExportError(`a layer of type ${ociMediaType} cannot be put in a Docker manifest`, {
    hint: 'zstd layers need OCI media types: set oci-mediatypes=true or use compression=gzip.',
  });
}

/** The compression of a layer media type. */
export function compressionOf(mediaType: string): Compression {
  if (mediaType.endsWith('gzip')) return 'gzip';
  if (mediaType.endsWith('zstd')) return 'zstd';
  return 'uncompressed';
}

/** Which compression a stream uses, from its first bytes. */
export function detectCompression(head: Uint8Array): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'uncompressed';
}

const DECOMPRESSED_CHUNK = 256 * 1024;

/**
 * Turn a maybe-compressed stream into its uncompressed bytes, detecting the compression.
 * `onRaw` sees every raw (compressed) chunk, for hashing the blob as stored.
 */
export async function openDecompressed(
  source: AsyncIterable<Uint8Array>,
  onRaw: (chunk: Uint8Array) => void,
): Promise<{ compression: Compression; stream: AsyncIterable<Uint8Array> }> {
  const it = source[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headLength = 0;
  let done = false;
  while (headLength < 4 && !done) {
    const next = await it.next();
    if (next.done) done = true;
    else {
      head.push(next.value);
      headLength += next.value.length;
    }
  }
  const first = Buffer.concat(head);
  const compression = detectCompression(first);
  async function* raw(): AsyncGenerator<Uint8Array> {
    onRaw(first);
    yield first;
    if (done) return;
    for (let next = await it.next(); !next.done; next = await it.next()) {
      onRaw(next.value);
      yield next.value;
    }
  }
  if (compression === 'uncompressed') return { compression, stream: raw() };
  // Output in 256 KiB chunks, not zlib's 16 KiB: each chunk is a thread-pool round trip
  // and a callback here, and an unpack waited on them (Debian's 200 MB layer: ~1 s less).
  const options = { chunkSize: DECOMPRESSED_CHUNK };
  const decompressor =
    compression === 'gzip' ? zlib().createGunzip(options) : zlib().createZstdDecompress(options);
  // pipeline() destroys every stage on error, so the consumer's iteration rejects.
  const stream = pipeline(Readable.from(raw()), decompressor, () => undefined);
  return { compression, stream };
}
