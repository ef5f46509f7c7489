/** Find a program on a search path, as `command -v` does. */
import { access, constants } from 'node:fs/promises';
import path from 'node:path';

/** The first executable `program` in `searchPath`'s directories, or undefined. */
export async function which(program: string, searchPath: string): Promise<string | undefined> {
  if (program.includes('/')) {
    return access(program, constants.X_OK).then(
      () => program,
      () => undefined,
    );
  }
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, program);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory: try the next one.
    }
  }
  return undefined;
}
