/**
 * write(2) may write fewer bytes than asked (a disk close to full, a signal); a blob must
 * never be committed short (issue 14, item 9). The file here is real; only the size of
 * each write(2) is capped, as the kernel may do.
 */
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFully } from './blob-store.ts';

/** A handle whose writes each take at most `cap` bytes. */
function capped(handle: FileHandle, cap: number): FileHandle {
  return new Proxy(handle, {
    get(target, prop, receiver) {
      if (prop !== 'write') return Reflect.get(target, prop, receiver) as unknown;
      return (buffer: Uint8Array, offset = 0, length = buffer.length - offset) =>
        target.write(buffer, offset, Math.min(length, cap));
    },
  });
}

describe('writeFully', () => {
  it('writes every byte when each write(2) takes only some', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tbuild-shortwrite-'));
    try {
      const file = join(dir, 'blob');
      const handle = await open(file, 'w');
      const bytes = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 256));
      try {
        await writeFully(capped(handle, 777), bytes);
      } finally {
        await handle.close();
      }
      expect((await readFile(file)).equals(bytes)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
