/**
 * A pass-through stream that reports push progress. (Pulled blobs are verified while they
 * stream in client.ts.)
 */
import { Transform } from 'node:stream';
import type { Digest } from '../shared/digest.ts';
import type { TransferProgress } from './types.ts';

/** Counts bytes flowing through and reports them (pull and push progress). */
export function createByteCounter(
  action: 'pull' | 'push',
  repository: string,
  digest: Digest,
  total: number | undefined,
  report: (progress: TransferProgress) => void,
): Transform {
  let current = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      current += chunk.length;
      report({ action, repository, digest, current, total });
      callback(null, chunk);
    },
  });
}
