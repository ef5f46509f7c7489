/**
 * `type=local`: a cache in an OCI image layout directory. The cache manifest is an entry
 * of `index.json` named by `tag` (default `latest`); blobs are content-addressed files,
 * written to a temp name and renamed. Re-export removes blobs no entry references.
 * Writers to one directory take turns (a lock file); the last one's entry for a tag wins,
 * and the others' entries for other tags stay.
 */
import { createReadStream } from 'node:fs';
import {
  copyFile,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Digest } from '../../shared/digest.ts';
import { digestHex, isDigest } from '../../shared/digest.ts';
import { MediaType, type Descriptor } from '../../shared/oci.ts';
import {
  decodeCacheManifest,
  encodeCacheManifest,
  type CacheManifestOptions,
} from '../cache-manifest.ts';
import { InvalidCacheError } from '../errors.ts';
import type { CacheExport, CacheSource, CacheTarget, LoadedCache } from '../types.ts';

const RefName = 'org.opencontainers.image.ref.name';

interface LayoutIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

/** The `--cache-from type=local,src=DIR` source; a missing directory loads nothing. */
export function localCacheSource(
  dir: string,
  selector: { tag: string; digest?: Digest },
): CacheSource {
  const name = `local ${dir}`;
  return {
    async load() {
      const index = await readIndex(dir);
      if (!index) return undefined;
      const entry = selector.digest
        ? index.manifests.find((m) => m.digest === selector.digest)
        : index.manifests.find((m) => m.annotations?.[RefName] === selector.tag);
      if (!entry) return undefined;
      const manifest = await readFile(blobPath(dir, entry.digest));
      const { config } = decodeCacheManifest(manifest, name);
      const configBody = await readFile(blobPath(dir, config.digest));
      let parsed: unknown;
      try {
        parsed = JSON.parse(configBody.toString('utf8'));
      } catch {
        throw new InvalidCacheError(name, 'the cache config is not JSON');
      }
      const cache: LoadedCache = {
        name,
        config: parsed as LoadedCache['config'],
        async fetchBlob(descriptor) {
          return createReadStream(blobPath(dir, descriptor.digest));
        },
      };
      return cache;
    },
  };
}

/** The `--cache-to type=local,dest=DIR` target. */
export function localCacheTarget(
  dir: string,
  tag: string,
  manifestOptions: CacheManifestOptions,
): CacheTarget {
  return {
    async write(cache, _signal, report) {
      const encoded = encodeCacheManifest(cache, manifestOptions);
      await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
      // Blobs are written under the lock too: another writer's garbage collection must
      // not remove them before the index names them.
      await withLock(dir, async () => {
        let written = 0;
        for (const blob of cache.blobs) if (await writeBlob(dir, blob.digest, cache)) written++;
        await writeBytes(dir, encoded.config.descriptor.digest, encoded.config.bytes);
        await writeBytes(dir, encoded.manifest.descriptor.digest, encoded.manifest.bytes);
        report(`${written} layers written, ${cache.blobs.length - written} already there`);
        const index = (await readIndex(dir)) ?? {
          schemaVersion: 2,
          mediaType: MediaType.OciIndex,
          manifests: [],
        };
        index.manifests = [
          ...index.manifests.filter((m) => m.annotations?.[RefName] !== tag),
          { ...encoded.manifest.descriptor, annotations: { [RefName]: tag } },
        ];
        await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
        await writeAtomically(path.join(dir, 'index.json'), JSON.stringify(index));
        const removed = await collectGarbage(dir, index);
        if (removed > 0) report(`${removed} unreferenced blobs removed`);
      });
      return { ref: `${dir}:${tag}` };
    },
  };
}

async function readIndex(dir: string): Promise<LayoutIndex | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(dir, 'index.json'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const index = JSON.parse(text) as LayoutIndex;
    if (!Array.isArray(index.manifests)) throw new Error('no manifests');
    return index;
  } catch {
    throw new InvalidCacheError(`local ${dir}`, 'index.json is not an OCI image index');
  }
}

function blobPath(dir: string, digest: Digest): string {
  return path.join(dir, 'blobs', 'sha256', digestHex(digest));
}

/** A layer blob from the store, hard-linked when on the same filesystem. False when present. */
async function writeBlob(dir: string, digest: Digest, cache: CacheExport): Promise<boolean> {
  const target = blobPath(dir, digest);
  if (await exists(target)) return false;
  const temp = `${target}.${process.pid}.tmp`;
  const source = cache.blobPath?.(digest);
  try {
    if (source) await link(source, temp).catch(() => copyFile(source, temp));
    else await pipeline(cache.openBlob(digest), (await open(temp, 'w')).createWriteStream());
    await rename(temp, target);
  } finally {
    await rm(temp, { force: true });
  }
  return true;
}

async function writeBytes(dir: string, digest: Digest, bytes: Buffer): Promise<void> {
  const target = blobPath(dir, digest);
  if (!(await exists(target))) await writeAtomically(target, bytes);
}

async function writeAtomically(file: string, data: string | Buffer): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, data);
  await rename(temp, file);
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** Remove blobs that no manifest of the index references (and temp files of dead writers). */
async function collectGarbage(dir: string, index: LayoutIndex): Promise<number> {
  const keep = new Set<string>();
  for (const entry of index.manifests) {
    keep.add(digestHex(entry.digest));
    const body = await readFile(blobPath(dir, entry.digest)).catch(() => undefined);
    if (!body) continue;
    try {
      const { config, blobs } = decodeCacheManifest(body, `local ${dir}`);
      keep.add(digestHex(config.digest));
      for (const b of blobs) keep.add(digestHex(b.digest));
    } catch {
      // Not a cache manifest (an image someone put here): keep what it names.
      const other = JSON.parse(body.toString('utf8')) as {
        config?: Descriptor;
        layers?: Descriptor[];
      };
      for (const d of [other.config, ...(other.layers ?? [])]) if (d) keep.add(digestHex(d.digest));
    }
  }
  let removed = 0;
  const blobDir = path.join(dir, 'blobs', 'sha256');
  for (const name of await readdir(blobDir)) {
    if (keep.has(name) || name.endsWith('.tmp') || !isDigest(`sha256:${name}`)) continue;
    await rm(path.join(blobDir, name), { force: true });
    removed++;
  }
  return removed;
}

/** Run `fn` holding `<dir>/index.json.lock` (taken over when older than a minute: a dead writer). */
async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(dir, 'index.json.lock');
  for (let attempt = 0; ; attempt++) {
    try {
      await (await open(lock, 'wx')).close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = Date.now() - ((await stat(lock).catch(() => undefined))?.mtimeMs ?? Date.now());
      if (age > 60_000) await rm(lock, { force: true });
      else await new Promise((resolve) => setTimeout(resolve, Math.min(20 * 2 ** attempt, 500)));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}
