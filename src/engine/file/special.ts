/**
 * Device nodes and FIFOs: Node cannot create them, so coreutils' mknod/mkfifo do (tbuild
 * runs as root). Sockets are skipped, as in Docker (they cannot be copied meaningfully).
 */
import { execFile } from 'node:child_process';
import type { Stats } from 'node:fs';
import { promisify } from 'node:util';
import { FileOpError } from './errors.ts';

const run = promisify(execFile);

export async function makeSpecialFile(dest: string, st: Stats): Promise<void> {
  const mode = (st.mode & 0o7777).toString(8);
  const major = Math.floor(st.rdev / 256) & 0xfff;
  const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
  try {
    if (st.isFIFO()) await run('mkfifo', ['-m', mode, dest]);
    else if (st.isCharacterDevice())
      await run('mknod', ['-m', mode, dest, 'c', String(major), String(minor)]);
    else if (st.isBlockDevice())
      await run('mknod', ['-m', mode, dest, 'b', String(major), String(minor)]);
  } catch (error) {
    throw new FileOpError('TBUILD_SPECIAL_FILE', `cannot create special file ${dest}`, {
      cause: error,
      hint: 'Creating device nodes needs root (CAP_MKNOD).',
    });
  }
}
