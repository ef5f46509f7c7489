/**
 * Path resolution inside a root directory, the way a container sees it: symlinks are
 * followed but can never lead outside the root (an absolute link target restarts at the
 * root, `..` stops at it). COPY's destination may cross symlinks in the image, and a
 * hostile image must not make tbuild write to the host. The walk itself is exec's
 * (one implementation for every root-confined lookup); this adds COPY's error.
 */
import path from 'node:path';
import { resolveInRoot as resolveInRootfs } from '../../exec/user.ts';
import { FileOpError } from './errors.ts';

/** Normalise a container path to an absolute, clean posix path (`a/../b/` → `/b`). */
export function cleanPath(p: string): string {
  return path.posix.normalize('/' + p).replace(/(.)\/+$/, '$1');
}

/**
 * Resolve `p` (container path) under `root` to a host path. Intermediate symlinks are
 * always followed; the final component only when `followFinal`. Missing components are
 * fine: the rest of the path is appended as is.
 */
export async function resolveInRoot(root: string, p: string, followFinal = true): Promise<string> {
  try {
    return await resolveInRootfs(root, cleanPath(p), followFinal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOOP') throw error;
    throw new FileOpError(
      'TBUILD_SYMLINK_LOOP',
      `too many levels of symbolic links resolving ${p}`,
      {
        hint: 'The image contains a symlink loop on this path.',
        cause: error,
      },
    );
  }
}

/** The container path of a host path under root (for messages). */
export function containerPath(root: string, hostPath: string): string {
  return '/' + path.relative(root, hostPath).split(path.sep).join('/');
}
