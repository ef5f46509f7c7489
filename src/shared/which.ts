/** Find a program on a search path, as `command -v` does. */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/**
 * The first executable `program` in `searchPath`'s directories, or undefined.
 *
 * Each candidate is tried with a synchronous access(2), microseconds each: a build's host
 * check looks up about ten programs across a dozen PATH directories, and as promises those
 * ~100 calls queued in libuv's four-thread pool ahead of the lowering's own file reads.
 */
export async function which(program: string, searchPath: string): Promise<string | undefined> {
  return whichSync(program, searchPath);
}

export function whichSync(program: string, searchPath: string): string | undefined {
  if (program.includes('/')) return executable(program) ? program : undefined;
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, program);
    if (executable(candidate)) return candidate;
  }
  return undefined;
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
