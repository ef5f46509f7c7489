/**
 * Write a result file (--iidfile, --metadata-file) through a temporary file and a rename,
 * so that a reader (a script polling the iidfile while `tbuild watch` rebuilds) sees the
 * old content or the new, never an empty file. A path that is not a regular file (a FIFO,
 * /dev/stdout) is written in place. Watch mode ignores `<output>.tbuild-*` (see
 * src/watch/ignore.ts). Shared by the builder and the CLI's up-to-date check, which
 * answers without the builder (and without node:crypto: the temp name is the pid's).
 */
import { rename, rm, stat, writeFile } from 'node:fs/promises';

let written = 0;

export async function replaceFile(file: string, content: string): Promise<void> {
  const existing = await stat(file).catch(() => undefined);
  if (existing && !existing.isFile()) return writeFile(file, content);
  const temp = `${file}.tbuild-${process.pid.toString(36)}-${(++written).toString(36)}`;
  try {
    await writeFile(temp, content);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
