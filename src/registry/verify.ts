/**
 * A pass-through stream that checks bytes against a digest and size. It holds back the
 * most recent chunk until the end is verified, so a consumer never receives a complete
 * blob that is wrong: on a mismatch the stream fails with DigestMismatchError instead.
 */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import type { Digest } from '../shared/digest.ts';
import { DigestMismatchError } from './errors.ts';
import type { TransferProgress } from './types.ts';

export function createVerifyStream(what: string, digest: Digest, size?: number): Transform {
  const hash = createHash('sha256');
  let received = 0;
  let held: Buffer | undefined;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (size !== undefined && received > size) {
        callback(
          new DigestMismatchError(
            `${what} is larger than announced`,
            `${size} bytes`,
            `more than ${size}`,
          ),
        );
        return;
      }
      hash.update(chunk);
      const previous = held;
      held = chunk;
      callback(null, previous);
    },
    flush(callback) {
      const actual: Digest = `sha256:${hash.digest('hex')}`;
      if (size !== undefined && received !== size) {
        callback(
          new DigestMismatchError(`${what} size mismatch`, `${size} bytes`, `${received} bytes`),
        );
      } else if (actual !== digest) {
        callback(new DigestMismatchError(`${what} digest mismatch`, digest, actual));
      } else {
        callback(null, held);
      }
    },
  });
}

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
