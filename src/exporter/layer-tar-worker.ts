/**
 * Worker thread: make one layer tar (layer-tar.ts) and pass it through the ring
 * (layer-tar-ring.ts) to the thread that hashes it. Started by layer-writer.ts.
 */
import { workerData, parentPort } from 'node:worker_threads';
import { layerTarChunks, layerXattrs } from './layer-tar.ts';
import {
  CONSUMED,
  LENGTHS,
  PUBLISHED,
  RING_DONE,
  RING_FAILED,
  RING_SLOTS,
  SLOT_BYTES,
  STATE,
  type WorkerFailure,
  type WorkerTask,
} from './layer-tar-ring.ts';

function produce(
  { diffDir, options, control, data }: WorkerTask,
  xattrs: Map<string, Map<string, Buffer>>,
): void {
  const c = new Int32Array(control);
  const slots = new Uint8Array(data);
  let published = 0;
  for (const chunk of layerTarChunks(diffDir, xattrs, options, true)) {
    for (let offset = 0; offset < chunk.length; offset += SLOT_BYTES) {
      const piece = chunk.subarray(offset, offset + SLOT_BYTES);
      for (let seen = Atomics.load(c, CONSUMED); published - seen >= RING_SLOTS;) {
        Atomics.wait(c, CONSUMED, seen);
        seen = Atomics.load(c, CONSUMED);
      }
      const slot = published % RING_SLOTS;
      slots.set(piece, slot * SLOT_BYTES);
      c[LENGTHS + slot] = piece.length;
      Atomics.store(c, PUBLISHED, ++published);
      Atomics.notify(c, PUBLISHED);
    }
  }
}

/**
 * Attributes as the build's thread read them. A worker's data is a structured clone, in
 * which a Buffer arrives as a plain Uint8Array: made Buffers again, or an opaque
 * directory's `y` would read as "121" and its marker would be left out of the tar.
 */
function asBuffers(xattrs: Map<string, Map<string, Buffer>>): Map<string, Map<string, Buffer>> {
  for (const attrs of xattrs.values())
    for (const [name, value] of attrs as Map<string, Uint8Array>)
      if (!Buffer.isBuffer(value))
        attrs.set(name, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  return xattrs;
}

async function main(task: WorkerTask): Promise<void> {
  const c = new Int32Array(task.control);
  try {
    produce(task, task.xattrs ? asBuffers(task.xattrs) : await layerXattrs(task.diffDir));
    Atomics.store(c, STATE, RING_DONE);
  } catch (error) {
    parentPort!.postMessage({ error: (error as Error).message } satisfies WorkerFailure);
    Atomics.store(c, STATE, RING_FAILED);
  }
  Atomics.notify(c, PUBLISHED);
}

await main(workerData as WorkerTask);
