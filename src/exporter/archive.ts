/**
 * Writing archives of image files (blobs, index.json, …) as a tar or into a directory,
 * and the image-name helpers the layouts share.
 */
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { encodeEntryHeader, endOfArchive, padding } from './tar-format.ts';
import type { ExportDest } from './types.ts';

/** One file of an archive: literal bytes, or a stored blob to stream (with its size). */
export type ArchiveFile =
  | { path: string; data: Buffer }
  | { path: string; size: number; open: () => Readable; source?: string };

/** The tar of `files` (parent directories first, each written once). */
export async function* generateArchive(
  files: readonly ArchiveFile[],
  mtime = 0,
): AsyncGenerator<Buffer> {
  const dirs = new Set<string>();
  for (const file of files) {
    const parts = file.path.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (dirs.has(dir)) continue;
      dirs.add(dir);
      yield encodeEntryHeader({
        path: dir,
        type: 'dir',
        mode: 0o755,
        uid: 0,
        gid: 0,
        size: 0,
        mtime,
      });
    }
    const size = 'data' in file ? file.data.length : file.size;
    yield encodeEntryHeader({
      path: file.path,
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      size,
      mtime,
    });
    if ('data' in file) yield file.data;
    else for await (const chunk of file.open()) yield chunk as Buffer;
    if (padding(size) > 0) yield Buffer.alloc(padding(size));
  }
  yield endOfArchive();
}

/** Stream bytes to a file path, standard output (`-`), or a stream. */
export async function writeToDest(source: AsyncIterable<Buffer>, dest: ExportDest): Promise<void> {
  if (dest === '-' || dest === process.stdout) {
    // Standard output stays open for whatever the caller writes next.
    await pipeline(Readable.from(source), process.stdout, { end: false });
    return;
  }
  if (typeof dest === 'string') await mkdir(dirname(dest), { recursive: true });
  await pipeline(
    Readable.from(source),
    typeof dest === 'string' ? createWriteStream(dest) : (dest as Writable),
  );
}

/** Write `files` under `dir` (blobs copied from the store when a source path is known). */
export async function writeArchiveDirectory(
  dir: string,
  files: readonly ArchiveFile[],
): Promise<void> {
  for (const file of files) {
    const path = join(dir, file.path);
    await mkdir(dirname(path), { recursive: true });
    if ('data' in file) await writeFile(path, file.data);
    else if (file.source) await copyFile(file.source, path);
    else await pipeline(file.open(), createWriteStream(path));
  }
}

/** An image name split for layouts: full (`docker.io/library/app:1.0`), familiar (`app:1.0`), tag. */
export interface ImageName {
  full: string;
  familiar: string;
  tag: string;
}

/** Parse a tagged name; digest-only references (`name@sha256:…`) give undefined. */
export function parseImageName(name: string): ImageName | undefined {
  if (name.includes('@')) return undefined;
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  const tag = colon > slash ? name.slice(colon + 1) : 'latest';
  let repo = colon > slash ? name.slice(0, colon) : name;
  const first = repo.split('/')[0]!;
  const hasDomain =
    repo.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasDomain) repo = repo.includes('/') ? `docker.io/${repo}` : `docker.io/library/${repo}`;
  const familiarRepo = repo.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
  return { full: `${repo}:${tag}`, familiar: `${familiarRepo}:${tag}`, tag };
}
