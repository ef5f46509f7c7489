/**
 * Worker thread: hash a list of context files (hash-file.ts) and reply once with every
 * digest, or the reason a file could not be read.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { hashOutcome, type HashTask } from './hash-file.ts';

parentPort!.postMessage((workerData as HashTask).files.map(hashOutcome));
