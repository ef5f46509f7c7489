/**
 * Path resolution inside a root directory, the way a container sees it: symlinks are
 * followed but can never lead outside the root (an absolute link target restarts at the
 * root, `..` stops at it). COPY's destination may cross symlinks in the image, and a
 * hostile image must not make tbuild write to the host.
 */
import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';
import { FileOpError } from './errors.ts';

const MAX_LINK_HOPS = 255;

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
  const pending = cleanPath(p).split('/').filter(Boolean);
  const done: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    if (part === '.') continue;
    const candidate = path.join(root, ...done, part);
    const isFinal = pending.length === 0;
    if (isFinal && !followFinal) {
      done.push(part);
      break;
    }
    const st = await lstat(candidate).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
      throw err;
    });
    if (!st?.isSymbolicLink()) {
      done.push(part);
      if (!st) {
        done.push(...pending.filter((x) => x !== '.'));
        return path.join(root, ...clampDots(done));
      }
      continue;
    }
    if (++hops > MAX_LINK_HOPS) {
      throw new FileOpError(
        'TBUILD_SYMLINK_LOOP',
        `too many levels of symbolic links resolving ${p}`,
        {
          hint: 'The image contains a symlink loop on this path.',
        },
      );
    }
    const target = await readlink(candidate);
    if (target.startsWith('/')) done.length = 0;
    pending.unshift(...target.split('/').filter(Boolean));
  }
  return path.join(root, ...done);
}

function clampDots(parts: string[]): string[] {
  const out: string[] = [];
  for (const part of parts) {
    if (part === '..') out.pop();
    else if (part !== '.') out.push(part);
  }
  return out;
}

/** The container path of a host path under root (for messages). */
export function containerPath(root: string, hostPath: string): string {
  return '/' + path.relative(root, hostPath).split(path.sep).join('/');
}
