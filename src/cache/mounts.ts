/**
 * Stale mounts under the store. A build killed mid-RUN leaves its overlay (and bind)
 * mounts behind; deleting a directory through a live bind mount would delete the
 * user's files, so every removal under the store unmounts first.
 */
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { sep } from 'node:path';
import { StaleMountError } from './errors.ts';

/** Mount points at or under `dir`, deepest first (the order to unmount them in). */
export function listMountsUnder(dir: string): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []; // no /proc: nothing we can see
    throw error;
  }
  const prefix = dir.endsWith(sep) ? dir : dir + sep;
  const found = new Set<string>();
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (field === undefined) continue;
    const point = decodeMountPath(field);
    if (point === dir || point.startsWith(prefix)) found.add(point);
  }
  return [...found].sort((a, b) => b.length - a.length);
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function decodeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  );
}

/**
 * Detach every mount at or under `dir` (`umount -l`, so busy mounts go too). Returns
 * the mount points it detached; throws when one stays mounted, because deleting the
 * directory then would reach into the mounted filesystem.
 */
export function unmountUnder(dir: string): string[] {
  const mounts = listMountsUnder(dir);
  for (const point of mounts) {
    // A mount stacked several times needs several unmounts; bound the loop.
    for (let i = 0; i < 8 && listMountsUnder(point).includes(point); i++) {
      const result = spawnSync('umount', ['-l', point], { encoding: 'utf8' });
      if (result.error)
        throw new StaleMountError(point, result.error.message, { cause: result.error });
      if (result.status !== 0 && listMountsUnder(point).includes(point)) {
        throw new StaleMountError(
          point,
          result.stderr.trim() || `umount exited with ${result.status}`,
        );
      }
    }
  }
  return mounts;
}
