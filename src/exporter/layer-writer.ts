/**
 * Write a layer directory as an OCI layer tar (layer-tar.ts makes the bytes), hashing the
 * uncompressed and the compressed side in one pass; or only hash it (hashLayerTar), for a
 * large layer in a worker thread.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Digest } from '../shared/digest.ts';
import { workerScript } from '../shared/worker-script.ts';
import {
  release as releaseWorker,
  take as takeWorker,
  warm as warmWorker,
} from './layer-tar-pool.ts';
import { createCompressor, ociLayerMediaType, type Compression } from './compression.ts';
import { LayerWriteError } from './errors.ts';
import { layerTarChunks, layerXattrs, type LayerTally, type LayerTarOptions } from './layer-tar.ts';
import type { XattrMap } from './xattrs.ts';
import {
  LENGTHS,
  PUBLISHED,
  CONSUMED,
  RING_DONE,
  RING_FAILED,
  RING_RUNNING,
  RING_SLOTS,
  SLOT_BYTES,
  STATE,
  type WorkerFailure,
  type WorkerTask,
} from './layer-tar-ring.ts';

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
  read?: XattrMap,
  tally?: LayerTally,
): AsyncGenerator<Buffer> {
  const xattrs = read ?? (await layerXattrs(diffDir));
  for (const chunk of layerTarChunks(diffDir, xattrs, options, 'fresh', tally)) {
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
  /** The apparent size of the layer's files and symlinks (layer-tar.ts LayerTally). */
  contentBytes: number;
}

/**
 * The diff ID of `diffDir`'s layer tar, without keeping the tar. With `worker`, the tar is
 * made in a worker thread (layer-tar-worker.ts), which makes its file-system calls while
 * this thread hashes what it has passed through the shared ring (layer-tar-ring.ts); the
 * build's thread stays free between chunks for the steps running meanwhile.
 */
export async function hashLayerTar(
  diffDir: string,
  options: LayerTarOptions & {
    worker?: boolean;
    /** The worker's ring slot size (tests: CHUNK_BYTES leaves no spare room). */
    slotBytes?: number;
  } = {},
  /** The layer's extended attributes when already read; else read here. */
  xattrs?: XattrMap,
): Promise<LayerDigest> {
  const { worker, slotBytes = SLOT_BYTES, ...tarOptions } = options;
  const script = worker ? workerScript('layer-tar-worker', import.meta.url) : undefined;
  if (script !== undefined)
    return hashInWorker(
      script,
      { diffDir, options: tarOptions, ...(xattrs && { xattrs }) },
      slotBytes,
    );
  const hash = createHash('sha256');
  const tally = { contentBytes: 0 };
  let size = 0;
  for await (const chunk of generateLayerTar(diffDir, tarOptions, xattrs, tally)) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { diffId: `sha256:${hash.digest('hex')}`, size, contentBytes: tally.contentBytes };
}

async function hashInWorker(
  script: URL,
  task: Pick<WorkerTask, 'diffDir' | 'options' | 'xattrs'>,
  slotBytes: number,
): Promise<LayerDigest> {
  const control = new SharedArrayBuffer(4 * (LENGTHS + RING_SLOTS));
  const data = new SharedArrayBuffer(RING_SLOTS * slotBytes);
  const tally = new SharedArrayBuffer(8);
  const c = new Int32Array(control);
  const worker = await takeWorker(script);
  let failure: Error | undefined;
  const stop = (error: Error): void => {
    failure ??= error;
    Atomics.store(c, STATE, RING_FAILED);
    Atomics.notify(c, PUBLISHED);
  };
  const onMessage = (message: WorkerFailure) => stop(new LayerWriteError(message.error));
  const onError = (error: Error) =>
    stop(new LayerWriteError(`layer tar worker failed: ${error.message}`, { cause: error }));
  const onExit = (code: number) => {
    if (Atomics.load(c, STATE) === RING_RUNNING)
      stop(new LayerWriteError(`layer tar worker exited with code ${code}`));
  };
  worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  worker.postMessage({ ...task, control, data, tally } satisfies WorkerTask);
  const hash = createHash('sha256');
  let size = 0;
  let consumed = 0;
  try {
    for (;;) {
      const published = Atomics.load(c, PUBLISHED);
      for (; consumed < published; consumed++) {
        const slot = consumed % RING_SLOTS;
        const length = c[LENGTHS + slot]!;
        hash.update(new Uint8Array(data, slot * slotBytes, length));
        size += length;
        Atomics.store(c, CONSUMED, consumed + 1);
        Atomics.notify(c, CONSUMED);
      }
      const state = Atomics.load(c, STATE);
      if (state === RING_FAILED) break;
      if (state === RING_DONE && Atomics.load(c, PUBLISHED) === consumed) break;
      if (Atomics.load(c, PUBLISHED) === published)
        await Atomics.waitAsync(c, PUBLISHED, published).value;
    }
  } finally {
    // A failure's message comes before the worker's end: it is in `failure` after this.
    if (Atomics.load(c, STATE) !== RING_DONE) await worker.terminate();
  }
  if (Atomics.load(c, STATE) !== RING_DONE)
    throw failure ?? new LayerWriteError('layer tar worker failed');
  worker.off('message', onMessage).off('error', onError).off('exit', onExit);
  releaseWorker(worker);
  const contentBytes = new Float64Array(tally)[0]!;
  return { diffId: `sha256:${hash.digest('hex')}`, size, contentBytes };
}

/**
 * Start a layer-tar worker now, for the hash of a large layer being written: the hash then
 * starts when the layer is committed, not ~60 ms later (layer-tar-pool.ts).
 */
export function warmLayerHasher(): void {
  const script = workerScript('layer-tar-worker', import.meta.url);
  if (script !== undefined) warmWorker(script);
}
