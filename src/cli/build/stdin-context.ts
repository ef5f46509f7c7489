/**
 * `tbuild build -`: the build context read from standard input, as `docker build -` reads
 * it. A tar archive (plain, gzip, bzip2 or xz) is the context, with the Dockerfile inside
 * it; anything else is a Dockerfile, built with an empty context.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extractArchive, isArchive } from '../../engine/file/unpack.ts';

export interface StdinContext {
  /** The context directory (private, removed by dispose). */
  dir: string;
  /** The Dockerfile when stdin held one rather than an archive. */
  dockerfileText: string | undefined;
  dispose(): Promise<void>;
}

export async function readStdinContext(input: Readable = process.stdin): Promise<StdinContext> {
  const base = await mkdtemp(path.join(tmpdir(), 'tbuild-stdin-'));
  const dispose = () => rm(base, { recursive: true, force: true });
  try {
    const received = path.join(base, 'stdin');
    await pipeline(input, createWriteStream(received, { mode: 0o600 }));
    const dir = path.join(base, 'context');
    await mkdir(dir);
    if (await isArchive(received)) {
      await extractArchive(received, dir);
      await rm(received);
      return { dir, dockerfileText: undefined, dispose };
    }
    return { dir, dockerfileText: await readFile(received, 'utf8'), dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
