/** Small file-system helpers the store needs: durable writes, safe removal, sizes. */
import { lstat, open, readdir, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { unmountUnder } from './mounts.ts';

/** fsync a directory, so a rename into it survives a crash of the machine. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Remove a directory tree that may hold stale mounts: unmount first, then delete. */
export async function removeTree(dir: string): Promise<void> {
  unmountUnder(dir);
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** Synchronous `removeTree`, for `close()`. */
export function removeTreeSync(dir: string): void {
  unmountUnder(dir);
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

/**
 * Bytes a layer directory holds: the apparent size of its files and symlinks (what
 * `docker images` calls SIZE), each hard-linked inode counted once.
 */
export async function measureTree(dir: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (path: string): Promise<void> => {
    const entries = await readdir(path, { withFileTypes: true });
    for (const entry of entries) {
      const child = join(path, entry.name);
      if (entry.isDirectory()) {
        await walk(child);
        continue;
      }
      const stat = await lstat(child, { bigint: true });
      if (stat.nlink > 1n) {
        const id = `${stat.dev}:${stat.ino}`;
        if (seen.has(id)) continue;
        seen.add(id);
      }
      if (stat.isFile() || stat.isSymbolicLink()) total += Number(stat.size);
    }
  };
  await walk(dir);
  return total;
}

/** Whether an error is "no such file". */
export function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
