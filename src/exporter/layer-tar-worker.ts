/**
 * Worker thread: make one layer tar (layer-tar.ts) and hash it; reply once with its diff
 * ID and size. The tar itself never leaves this thread.
 */
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { layerTarChunks, layerXattrs, type LayerTarOptions } from './layer-tar.ts';

export interface WorkerTask {
  diffDir: string;
  options: LayerTarOptions;
}

export type WorkerReply = { diffId: `sha256:${string}`; size: number } | { error: string };

async function main({ diffDir, options }: WorkerTask): Promise<WorkerReply> {
  try {
    const hash = createHash('sha256');
    let size = 0;
    for (const chunk of layerTarChunks(diffDir, await layerXattrs(diffDir), options)) {
      hash.update(chunk);
      size += chunk.length;
    }
    return { diffId: `sha256:${hash.digest('hex')}`, size };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

parentPort!.postMessage(await main(workerData as WorkerTask));
