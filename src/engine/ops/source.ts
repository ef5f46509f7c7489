/**
 * Source ops: base images (store first, then registry), the local build context, and
 * remote files for ADD <url>.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { HttpSource, ImageSource, LocalSource } from '../../llb/types.ts';
import { digestOf } from '../../shared/digest.ts';
import type { CacheMap, OpContext, OpHandler } from '../../solver/types.ts';
import type { ContextCache } from '../context/index.ts';
import { SourceFetchError } from '../errors.ts';
import type { EngineOptions, Ref, ResolvedImage } from '../types.ts';

export function imageSourceHandler(engine: EngineOptions, source: ImageSource): OpHandler<Ref> {
  let resolved: Promise<ResolvedImage> | undefined;
  const resolve = (): Promise<ResolvedImage> =>
    (resolved ??= engine.images.resolve(source.ref, source.platform, source.pull ?? false));
  return {
    async cacheMap(): Promise<CacheMap> {
      const image = await resolve();
      return { digest: digestOf({ image: image.manifestDigest }), uncacheable: true };
    },
    async exec(ctx: OpContext): Promise<Ref[]> {
      const top = await engine.images.materialize(
        await resolve(),
        ctx.signal,
        (id, current, total) => ctx.progress(id, current, total),
      );
      return [top === null ? { kind: 'empty' } : { kind: 'snapshot', id: top }];
    },
  };
}

export function localSourceHandler(
  engine: EngineOptions,
  source: LocalSource,
  contexts: ContextCache,
): OpHandler<Ref> {
  return {
    async cacheMap(): Promise<CacheMap> {
      // Consumers key on the content of the paths they use (content selectors), not on this.
      return {
        digest: digestOf({ local: source.name, exclude: source.exclude ?? [] }),
        uncacheable: true,
      };
    },
    async exec(): Promise<Ref[]> {
      const root = engine.localDirs[source.name];
      if (!root)
        throw new SourceFetchError(
          `no local directory named "${source.name}" was given to the build`,
        );
      const context = contexts.local(
        root,
        source.exclude ?? [],
        engine.contextChanges ?? engine.listings?.[source.name],
      );
      return [{ kind: 'local', root, context }];
    },
  };
}

/** ADD <url>: downloaded once per build; the key is the content (or --checksum). */
export function httpSourceHandler(engine: EngineOptions, source: HttpSource): OpHandler<Ref> {
  let download: Promise<{ data: Buffer; name: string }> | undefined;
  const fetchOnce = (signal: AbortSignal) => (download ??= fetchUrl(source, signal));
  return {
    async cacheMap(ctx): Promise<CacheMap> {
      if (source.checksum)
        return { digest: digestOf({ http: source.checksum, filename: source.filename ?? null }) };
      const { data, name } = await fetchOnce(ctx.signal);
      return {
        digest: digestOf({
          http: `sha256:${createHash('sha256').update(data).digest('hex')}`,
          name,
        }),
      };
    },
    async exec(ctx: OpContext): Promise<Ref[]> {
      const { data, name } = await fetchOnce(ctx.signal);
      const snapshot = await engine.store.snapshots.create(null, `ADD ${source.url}`);
      try {
        await mkdir(snapshot.dir, { recursive: true });
        const file = path.join(snapshot.dir, name);
        await writeFile(file, data);
        // Docker gives downloaded files mode 0600.
        await chmod(file, 0o600);
        const committed = await engine.store.snapshots.commit(snapshot.id);
        return [{ kind: 'snapshot', id: committed.id }];
      } catch (error) {
        await engine.store.snapshots.remove(snapshot.id);
        throw error;
      }
    },
  };
}

async function fetchUrl(
  source: HttpSource,
  signal: AbortSignal,
): Promise<{ data: Buffer; name: string }> {
  let response: Response;
  try {
    response = await fetch(source.url, { signal, redirect: 'follow' });
  } catch (error) {
    throw new SourceFetchError(`failed to download ${source.url}: ${(error as Error).message}`, {
      cause: error,
      hint: 'Check the URL and that this machine can reach it (proxies: HTTP_PROXY/HTTPS_PROXY).',
    });
  }
  if (!response.ok) {
    throw new SourceFetchError(`failed to download ${source.url}: HTTP ${response.status}`, {
      hint: 'Check the URL.',
    });
  }
  const data = Buffer.from(await response.arrayBuffer());
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  if (source.checksum && source.checksum !== digest) {
    throw new SourceFetchError(
      `checksum mismatch for ${source.url}: expected ${source.checksum}, got ${digest}`,
      {
        hint: 'The file changed on the server, or --checksum is wrong.',
      },
    );
  }
  const name =
    source.filename ?? (path.posix.basename(new URL(source.url).pathname) || 'index.html');
  return { data, name };
}
