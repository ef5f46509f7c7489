/**
 * Worker thread: unpack one layer (layer-unpack.ts) from the compressed bytes the thread
 * that started it sends (unpack-in-worker.ts), so the kernel's file creation of two layers
 * restored side by side runs on two cores instead of one thread. Each chunk is
 * acknowledged once taken, which is the sender's backpressure.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TbuildError } from '../shared/errors.ts';
import { unpackLayer, type UnpackOptions, type UnpackResult } from './layer-unpack.ts';

export interface UnpackTask {
  diffDir: string;
  options: UnpackOptions;
}

/** From the sender: a chunk of the blob, or its end. */
export type ToWorker = { chunk: Uint8Array } | { end: true } | { abort: string };

/** To the sender. */
export type FromWorker =
  | { taken: number }
  | { result: UnpackResult }
  | { error: { message: string; code?: string; hint?: string; tbuild: boolean } };

const port = parentPort!;
const queue: Uint8Array[] = [];
let ended = false;
let aborted: string | undefined;
let wake: (() => void) | undefined;
port.on('message', (message: ToWorker) => {
  if ('chunk' in message) queue.push(message.chunk);
  else if ('end' in message) ended = true;
  else aborted = message.abort;
  wake?.();
});

async function* received(): AsyncGenerator<Uint8Array> {
  for (;;) {
    const chunk = queue.shift();
    if (chunk !== undefined) {
      port.postMessage({ taken: 1 } satisfies FromWorker);
      yield chunk;
      continue;
    }
    if (aborted !== undefined) throw new Error(aborted);
    if (ended) return;
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
}

const { diffDir, options } = workerData as UnpackTask;
try {
  const result = await unpackLayer(received(), diffDir, options);
  port.postMessage({ result } satisfies FromWorker);
} catch (error) {
  const e = error as Error & { code?: unknown };
  port.postMessage({
    error: {
      message: e.message,
      ...(typeof e.code === 'string' && { code: e.code }),
      ...(error instanceof TbuildError && error.hint !== undefined && { hint: error.hint }),
      tbuild: error instanceof TbuildError,
    },
  } satisfies FromWorker);
}
