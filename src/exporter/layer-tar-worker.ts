/**
 * Worker thread: make one layer tar (layer-tar.ts) and send it to the thread that started
 * it in ~1 MiB chunks, their memory transferred, not copied. At most CHUNKS_AHEAD chunks
 * are in flight: the other side counts the ones it has taken in `taken`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CHUNKS_AHEAD, layerTarChunks, layerXattrs, type LayerTarOptions } from './layer-tar.ts';

export interface WorkerTask {
  diffDir: string;
  options: LayerTarOptions;
  /** An Int32 counter: chunks the receiving side has taken. */
  taken: SharedArrayBuffer;
}

export type WorkerMessage =
  { type: 'chunk'; chunk: Uint8Array } | { type: 'done' } | { type: 'error'; message: string };

async function main(task: WorkerTask): Promise<void> {
  const port = parentPort!;
  const taken = new Int32Array(task.taken);
  let sent = 0;
  try {
    const xattrs = await layerXattrs(task.diffDir);
    for (const chunk of layerTarChunks(task.diffDir, xattrs, task.options)) {
      for (
        let seen = Atomics.load(taken, 0);
        sent - seen >= CHUNKS_AHEAD;
        seen = Atomics.load(taken, 0)
      ) {
        Atomics.wait(taken, 0, seen);
      }
      const message: WorkerMessage = { type: 'chunk', chunk };
      port.postMessage(message, [chunk.buffer as ArrayBuffer]);
      sent++;
    }
    port.postMessage({ type: 'done' } satisfies WorkerMessage);
  } catch (error) {
    port.postMessage({ type: 'error', message: (error as Error).message } satisfies WorkerMessage);
  }
}

await main(workerData as WorkerTask);
