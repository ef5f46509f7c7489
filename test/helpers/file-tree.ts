/** Small file trees for tests of code that walks directories. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Write `files` (relative path → content) below `root`, making directories as needed. */
export async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

/**
 * Let file ctimes age past the context scanner's racy-write margin (50 ms), so that their
 * digests may be cached.
 */
export const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 80));
