/** Small file-system helpers the store needs: durable writes, safe removal, sizes. */
import { execFile } from 'node:child_process';
import { open, rm } from 'node:fs/promises';
import { lstatSync, readdirSync, rmSync } from 'node:fs';
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
 * `docker images` calls SIZE), each hard-linked inode counted once. Most layers are small
 * and are measured here with synchronous lstat calls (microseconds each, no process to
 * start); past INLINE_ENTRIES, one `find` lists the sizes: for a 20,000-file layer that is
 * ~50 ms against ~150 ms of lstat calls from here.
 */
export async function measureTree(dir: string): Promise<number> {
  return measureSmallTree(dir) ?? (await measureWithFind(dir));
}

const INLINE_ENTRIES = 2000;

/** The size, or undefined once the tree turns out to have more than `limit` entries. */
export function measureSmallTree(dir: string, limit = INLINE_ENTRIES): number | undefined {
  const seen = new Set<number>();
  const pending = [dir];
  let total = 0;
  let entries = 0;
  for (let current = pending.pop(); current !== undefined; current = pending.pop()) {
    for (const name of readdirSync(current)) {
      if (++entries > limit) return undefined;
      const path = join(current, name);
      const stat = lstatSync(path);
      if (stat.isDirectory()) pending.push(path);
      else if (stat.isFile() || stat.isSymbolicLink()) {
        if (stat.nlink > 1) {
          if (seen.has(stat.ino)) continue;
          seen.add(stat.ino);
        }
        total += stat.size;
      }
    }
  }
  return total;
}

async function measureWithFind(dir: string): Promise<number> {
  const listed = await new Promise<string>((resolve, reject) => {
    execFile(
      'find',
      [dir, '-mindepth', '1', '(', '-type', 'f', '-o', '-type', 'l', ')', '-printf', '%n %i %s\\n'],
      { maxBuffer: 1 << 30, encoding: 'utf8' },
      (error, stdout) => (error ? reject(error) : resolve(stdout)),
    );
  });
  const seen = new Set<string>();
  let total = 0;
  for (const line of listed.split('\n')) {
    if (line === '') continue;
    const [nlink, inode, size] = line.split(' ');
    if (nlink !== '1') {
      if (seen.has(inode!)) continue;
      seen.add(inode!);
    }
    total += Number(size);
  }
  return total;
}

/** Whether an error is "no such file". */
export function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
