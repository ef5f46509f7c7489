/**
 * The layer-tar workers (layer-tar-worker.ts) that hash large layers, kept one at a time:
 * starting a worker thread costs ~60 ms, which a one-file rebuild of a 20,000-file COPY
 * used to pay between the COPY's commit and the first byte of its hash.
 * - warm() starts one ahead of need (the engine calls it when a large layer is being
 *   written), so the hash finds it ready;
 * - a worker whose hash succeeded waits for the next one (the next layer, or the next
 *   build of a watch session) instead of exiting.
 * A waiting worker does not keep the process alive (unref), and one that died while it
 * waited is never handed out.
 */
import type { Worker } from 'node:worker_threads';

let spare: Worker | undefined;
let starting: Promise<void> | undefined;
const exited = new WeakSet<Worker>();

async function spawn(script: URL): Promise<Worker> {
  const { Worker } = await import('node:worker_threads'); // loaded when first needed
  const worker = new Worker(script, { workerData: null });
  worker.once('exit', () => {
    exited.add(worker);
    if (spare === worker) spare = undefined;
  });
  // An idle worker's failure is only its end: the next hash starts another.
  worker.on('error', () => undefined);
  return worker;
}

/** Start a worker now, if none is waiting, for a hash that is coming. */
export function warm(script: URL): void {
  if (spare !== undefined || starting !== undefined) return;
  starting = spawn(script)
    .then((worker) => release(worker))
    .catch(() => undefined)
    .finally(() => (starting = undefined));
}

/** A worker for one hash: the waiting one, or a new one. */
export async function take(script: URL): Promise<Worker> {
  await starting;
  const worker = spare;
  spare = undefined;
  if (worker !== undefined && !exited.has(worker)) {
    worker.ref();
    return worker;
  }
  return spawn(script);
}

/** A worker whose hash succeeded: it waits for the next, unless one waits already. */
export function release(worker: Worker): void {
  if (spare === undefined && !exited.has(worker)) {
    worker.unref();
    spare = worker;
  } else void worker.terminate();
}
