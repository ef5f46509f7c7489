/**
 * unpackLayer in a worker thread (unpack-worker.ts): the bytes are read here and handed
 * over chunk by chunk, at most AHEAD of them not yet taken. Without the worker script (an
 * unusual bundle) the layer is unpacked in this thread.
 */
import type { Readable } from 'node:stream';
import { TbuildError } from '../shared/errors.ts';
import { workerScript } from '../shared/worker-script.ts';
import { unpackLayer, type UnpackOptions, type UnpackResult } from './layer-unpack.ts';
import type { FromWorker, ToWorker, UnpackTask } from './unpack-worker.ts';

/** Chunks sent and not yet taken by the worker (network chunks: tens of KB each). */
const AHEAD = 64;

export async function unpackLayerInWorker(
  stream: Readable | AsyncIterable<Uint8Array>,
  diffDir: string,
  options: UnpackOptions = {},
): Promise<UnpackResult> {
  const script = workerScript('unpack-worker', import.meta.url);
  if (script === undefined) return unpackLayer(stream, diffDir, options);
  const { Worker } = await import('node:worker_threads');
  const worker = new Worker(script, { workerData: { diffDir, options } satisfies UnpackTask });
  let inFlight = 0;
  let room: (() => void) | undefined;
  let settled = false;
  const outcome = new Promise<UnpackResult>((resolve, reject) => {
    worker.on('message', (message: FromWorker) => {
      if ('taken' in message) {
        inFlight -= message.taken;
        room?.();
      } else if ('result' in message) {
        settled = true;
        resolve(message.result);
      } else {
        settled = true;
        const { message: text, code, hint, tbuild } = message.error;
        reject(
          tbuild
            ? new TbuildError(code ?? 'TBUILD_LAYER_UNPACK', text, hint ? { hint } : {})
            : Object.assign(new Error(text), code ? { code } : {}),
        );
      }
      room?.();
    });
    worker.on('error', (error) => {
      settled = true;
      reject(error);
      room?.();
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`layer unpack worker exited with code ${code}`));
      settled = true;
      room?.();
    });
  });
  outcome.catch(() => undefined); // awaited below, after the bytes are sent
  const send = (message: ToWorker, transfer: ArrayBuffer[] = []): void =>
    worker.postMessage(message, transfer);
  // Terminated however it ends: after replying, the worker still listens for messages.
  try {
    try {
      for await (const piece of stream) {
        if (settled) break; // the worker failed (or finished early): stop reading
        const chunk = new Uint8Array(piece); // a copy this thread gives away
        send({ chunk }, [chunk.buffer]);
        inFlight++;
        while (inFlight >= AHEAD && !settled) await new Promise<void>((r) => (room = r));
        room = undefined;
      }
      if (!settled) send({ end: true });
    } catch (error) {
      if (!settled) send({ abort: (error as Error).message });
      await outcome.catch(() => undefined);
      throw error;
    }
    return await outcome;
  } finally {
    await worker.terminate();
  }
}
