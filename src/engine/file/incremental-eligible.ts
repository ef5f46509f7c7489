/**
 * Which copies an incremental COPY may update in place (file/incremental.ts, ADR 0018).
 * Apart so the worker can tell without loading the copy code: a cached build never does.
 */
import type { CopyAction } from '../../llb/types.ts';
import { hasWildcard } from './glob.ts';

/** One source path, no wildcard, no archive to unpack, no --parents or include filter. */
export function canCopyIncrementally(action: CopyAction): boolean {
  return (
    action.source !== null &&
    !action.attemptUnpack &&
    !action.parents &&
    !(action.allowWildcard && hasWildcard(action.src)) &&
    !(action.include && action.include.length > 0)
  );
}
