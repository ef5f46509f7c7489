/**
 * Write a layer directory as an OCI layer tar (layer-tar.ts makes the bytes), hashing the
 * uncompressed and the compressed side in one pass. A large layer's tar is made in a worker
 * thread (layer-tar-worker.ts) while this thread hashes and compresses: the two overlap,
 * and the build's own thread stays free for the steps running meanwhile.
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
import type { WorkerMessage, WorkerTask } from './layer-tar-worker.ts';

export interface LayerWriteOptions extends LayerTarOptions {
  compression: Compression;
  compressionLevel?: number;
  /** Make the tar in a worker thread (worth it for layers of more than a few MB). */
  worker?: boolean;
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

/** The uncompressed layer tar of `diffDir`, chunk by chunk. */
export async function* generateLayerTar(
  diffDir: string,
  options: LayerTarOptions & { worker?: boolean } = {},
): AsyncGenerator<Buffer> {
  const { worker, ...tarOptions } = options;
  const script = worker ? workerScript('layer-tar-worker', import.meta.url) : undefined;
  if (script !== undefined) {
    yield* generateInWorker(script, { diffDir, options: tarOptions });
    return;
  }
  const xattrs = await layerXattrs(diffDir);
  for (const chunk of layerTarChunks(diffDir, xattrs, tarOptions)) {
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

async function* generateInWorker(
  script: URL,
  task: Omit<WorkerTask, 'taken'>,
): AsyncGenerator<Buffer> {
  const taken = new SharedArrayBuffer(4);
  const counter = new Int32Array(taken);
  const worker = new Worker(script, { workerData: { ...task, taken } satisfies WorkerTask });
  const queue: Buffer[] = [];
  let finished = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  worker.on('message', (message: WorkerMessage) => {
    if (message.type === 'chunk') {
      queue.push(
        Buffer.from(message.chunk.buffer, message.chunk.byteOffset, message.chunk.byteLength),
      );
    } else if (message.type === 'done') finished = true;
    else failure = new LayerWriteError(message.message);
    wake?.();
  });
  worker.on('error', (error) => {
    failure ??= new LayerWriteError(`layer tar worker failed: ${error.message}`, { cause: error });
    wake?.();
  });
  worker.on('exit', (code) => {
    if (!finished) failure ??= new LayerWriteError(`layer tar worker exited with code ${code}`);
    wake?.();
  });
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk !== undefined) {
        yield chunk;
        Atomics.add(counter, 0, 1);
        Atomics.notify(counter, 0);
        continue;
      }
      if (failure) throw failure;
      if (finished) return;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    if (!finished || failure) await worker.terminate();
  }
}
