/**
 * ADD's automatic extraction of local tar archives (plain, gzip, bzip2, xz), as Docker
 * does for local sources (never for URLs). GNU tar extracts into a private temp directory;
 * the caller then copies the tree into the image through root-confined paths, so a hostile
 * archive cannot write through symlinks in the image.
 */
import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';
import { FileOpError } from './errors.ts';

const run = promisify(execFile);

/** Sniff the magic bytes: gzip, bzip2, xz, or a ustar/gnu tar header. */
export async function isArchive(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    if (bytesRead >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return true;
    if (bytesRead >= 3 && buf.subarray(0, 3).toString('latin1') === 'BZh') return true;
    if (
      bytesRead >= 6 &&
      buf.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))
    )
      return true;
    return bytesRead >= 262 && buf.subarray(257, 262).toString('latin1') === 'ustar';
  } finally {
    await fh.close();
  }
}

export async function extractArchive(
  file: string,
  dir: string,
  signal?: AbortSignal,
): Promise<void> {
  try {
    await run(
      'tar',
      [
        '-x',
        '-f',
        file,
        '-C',
        dir,
        '--numeric-owner',
        '--same-owner',
        '--same-permissions',
        '--no-overwrite-dir',
      ],
      {
        signal,
        maxBuffer: 4 << 20,
      },
    );
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new FileOpError(
      'TBUILD_ADD_UNPACK',
      `failed to extract archive: ${stderr || String(error)}`,
      {
        cause: error,
        hint: 'The file looks like a tar archive but could not be read; check it is not truncated.',
      },
    );
  }
}
