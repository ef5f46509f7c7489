/**
 * Worker thread: make layer tars (layer-tar.ts), one per task message, and pass each through
 * its ring (layer-tar-ring.ts) to the thread that hashes it. Started by layer-tar-pool.ts;
 * it waits for the next task until it is terminated.
 */
import { parentPort } from 'node:worker_threads';
import { layerTarChunks, layerXattrs } from './layer-tar.ts';
import {
  CONSUMED,
  LENGTHS,
  PUBLISHED,
  RING_DONE,
  RING_FAILED,
  RING_SLOTS,
  STATE,
  type WorkerFailure,
  type WorkerTask,
} from './layer-tar-ring.ts';
import type { XattrMap } from './xattrs.ts';

/**
 * The tar is written into the ring's slots in place; a chunk that outgrew its slot (a
 * header past the slot's spare room) is copied in, piece by piece, starting with the
 * slot it outgrew. Slots are handed out and published in the same order.
 */
function produce({ diffDir, options, control, data, tally }: WorkerTask, xattrs: XattrMap): void {
  const c = new Int32Array(control);
  const slotBytes = data.byteLength / RING_SLOTS;
  const counted = { contentBytes: 0 };
  let handed = 0;
  let published = 0;
  const handOut = (): number => {
    for (let seen = Atomics.load(c, CONSUMED); handed - seen >= RING_SLOTS;) {
      Atomics.wait(c, CONSUMED, seen);
      seen = Atomics.load(c, CONSUMED);
    }
    return handed++ % RING_SLOTS;
  };
  const view = (slot: number): Buffer => Buffer.from(data, slot * slotBytes, slotBytes);
  const publish = (slot: number, length: number): void => {
    c[LENGTHS + slot] = length;
    Atomics.store(c, PUBLISHED, ++published);
    Atomics.notify(c, PUBLISHED);
  };
  for (const chunk of layerTarChunks(diffDir, xattrs, options, () => view(handOut()), counted)) {
    if (chunk.buffer === data) {
      publish(chunk.byteOffset / slotBytes, chunk.length);
      continue;
    }
    for (let offset = 0; offset < chunk.length; offset += slotBytes) {
      const piece = chunk.subarray(offset, offset + slotBytes);
      const slot = handed > published ? published % RING_SLOTS : handOut();
      view(slot).set(piece);
      publish(slot, piece.length);
    }
  }
  new Float64Array(tally)[0] = counted.contentBytes; // seen by the reader after RING_DONE
}

/**
 * Attributes as the build's thread read them. A worker's data is a structured clone, in
 * which a Buffer arrives as a plain Uint8Array: made Buffers again, or an opaque
 * directory's `y` would read as "121" and its marker would be left out of the tar.
 */
function asBuffers(xattrs: XattrMap): XattrMap {
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

parentPort!.on('message', (task: WorkerTask) => void main(task));
