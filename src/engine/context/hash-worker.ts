/**
 * Worker thread: hash a list of context files (hash-file.ts) and reply once with every
 * digest, or the reason a file could not be read.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { hashFileSync } from './hash-file.ts';

export interface HashTask {
  files: string[];
}

export type HashOutcome = { digest: string } | { error: string; code?: string };

const { files } = workerData as HashTask;
const outcomes = files.map((abs): HashOutcome => {
  try {
    return { digest: hashFileSync(abs) };
  } catch (err) {
    const { message, code } = err as NodeJS.ErrnoException;
    return code === undefined ? { error: message } : { error: message, code };
  }
});
parentPort!.postMessage(outcomes);
