/**
 * A layer tar passed from the worker that makes it (layer-tar-worker.ts) to the thread
 * that hashes it (layer-writer.ts) through a ring of shared slots: one thread makes the
 * file-system calls, the other the sha256, side by side, and no memory is allocated per
 * chunk (buffers handed between threads were collected late: +90 MB of peak memory for a
 * 338 MB layer).
 *
 * The control array: [0] slots published, [1] slots consumed, [2] state (RING_RUNNING,
 * RING_DONE, RING_FAILED), then each slot's length. The worker waits on [1] when the ring
 * is full; the reader waits on [0], and is woken there when the state changes too.
 */
import type { LayerTarOptions } from './layer-tar.ts';
import type { XattrMap } from './xattrs.ts';

export interface WorkerTask {
  diffDir: string;
  options: LayerTarOptions;
  /** The layer's extended attributes, when read already. */
  xattrs?: XattrMap;
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
  /** One float64: the layer's content bytes (layer-tar.ts LayerTally), set before RING_DONE. */
  tally: SharedArrayBuffer;
}

/** A failure's message, sent before the state turns RING_FAILED. */
export interface WorkerFailure {
  error: string;
}

export const RING_SLOTS = 8;
/**
 * The tar is written straight into the slots: a chunk (layer-tar.ts CHUNK_BYTES, 1 MiB) and
 * room for the headers that may follow it before it is handed over.
 */
export const SLOT_BYTES = (1 << 20) + (64 << 10);
/** Indexes into the control array. */
export const PUBLISHED = 0;
export const CONSUMED = 1;
export const STATE = 2;
export const LENGTHS = 3;
/** Values of control[STATE]. */
export const RING_RUNNING = 0;
export const RING_DONE = 1;
export const RING_FAILED = 2;
