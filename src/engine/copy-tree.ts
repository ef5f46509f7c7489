import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Copy a directory's contents into another, keeping owners, modes, times, links and
 * special files (`cp -a`: Node's fs.cp drops ownership).
 */
export async function copyTree(src: string, dest: string, signal?: AbortSignal): Promise<void> {
  await run('cp', ['-a', '--', `${src}/.`, dest], { signal, maxBuffer: 4 << 20 });
}
