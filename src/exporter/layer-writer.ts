/**
 * Write a layer directory as an OCI layer tar (layer-tar.ts makes the bytes), hashing the
 * uncompressed and the compressed side in one pass; or only hash it (hashLayerTar), for a
 * large layer in a worker thread.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import type { Digest } from '../shared/digest.ts';
import { workerScript } from '../shared/worker-script.ts';
import { createCompressor, ociLayerMediaType, type Compression } from './compression.ts';
import { LayerWriteError } from './errors.ts';
import { layerTarChunks, layerXattrs, type LayerTarOptions } from './layer-tar.ts';
import type { WorkerReply, WorkerTask } from './layer-tar-worker.ts';

export interface LayerWriteOptions extends LayerTarOptions {
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

/** The uncompressed layer tar of `diffDir`, chunk by chunk, made in this thread. */
export async function* generateLayerTar(
  diffDir: string,
  options: LayerTarOptions = {},
): AsyncGenerator<Buffer> {
  const xattrs = await layerXattrs(diffDir);
  for (const chunk of layerTarChunks(diffDir, xattrs, options)) {
    yield chunk;
    await nextTurn();
  }
}

/**
 * Let the event loop run between chunks. A consumer that takes chunks as fast as they come
 * (a hash) would otherwise keep the whole tar in one chain of promise jobs, and a build
 * hashing a layer while the next RUN runs could not see that RUN end until the hash did.
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface LayerDigest {
  /** sha256 of the uncompressed tar: the diff ID. */
  diffId: Digest;
  /** Bytes of that tar. */
  size: number;
}

/**
 * The diff ID of `diffDir`'s layer tar, without keeping the tar. With `worker`, the tar is
 * made and hashed in a worker thread (layer-tar-worker.ts): the build's thread stays free
 * for the steps running meanwhile, and no chunk crosses threads (transferred buffers were
 * collected late enough to add ~90 MB of peak memory for a 338 MB layer).
 */
export async function hashLayerTar(
  diffDir: string,
  options: LayerTarOptions & { worker?: boolean } = {},
): Promise<LayerDigest> {
  const { worker, ...tarOptions } = options;
  const script = worker ? workerScript('layer-tar-worker', import.meta.url) : undefined;
  if (script !== undefined) return hashInWorker(script, { diffDir, options: tarOptions });
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of generateLayerTar(diffDir, tarOptions)) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { diffId: `sha256:${hash.digest('hex')}`, size };
}

function hashInWorker(script: URL, task: WorkerTask): Promise<LayerDigest> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(script, { workerData: task });
    let settled = false;
    worker.once('message', (reply: WorkerReply) => {
      settled = true;
      if ('error' in reply) reject(new LayerWriteError(reply.error));
      else resolve({ diffId: reply.diffId, size: reply.size });
    });
    worker.once('error', (error) => {
      settled = true;
      reject(new LayerWriteError(`layer tar worker failed: ${error.message}`, { cause: error }));
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new LayerWriteError(`layer tar worker exited with code ${code}`));
    });
  });
}
