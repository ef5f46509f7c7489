/**
 * `--cache-from` and `--cache-to` for the builder: each spec to its backend, loading
 * every import (a cache that cannot be read is a warning), exporting after the build,
 * and the inline cache that goes into the image config. ADR 11.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { SnapshotId, Store } from '../cache/types.ts';
import { mountSourceOf, openBlob } from '../engine/lazy-layers.ts';
import type { Compression } from '../exporter/compression.ts';
import type { RegistryClient } from '../registry/types.ts';
import type { Digest } from '../shared/digest.ts';
import { UsageError } from '../shared/errors.ts';
import type { Platform } from '../shared/platform.ts';
import { inTask, type ProgressSink } from '../shared/progress.ts';
import { ghaCacheSource, ghaCacheTarget, GhaCacheError, type GhaOptions } from './backends/gha.ts';
import { localCacheSource, localCacheTarget } from './backends/local.ts';
import { registryCacheSource, registryCacheTarget } from './backends/registry.ts';
import { buildCacheConfig } from './cache-config.ts';
import { collectRecords } from './collect.ts';
import { CacheExportError } from './errors.ts';
import type {
  CacheExport,
  CacheMode,
  CacheSource,
  CacheSpec,
  CacheTarget,
  LoadedCache,
} from './types.ts';

export { withImportedCaches, type ImportStats } from './import.ts';
export { InlineCacheKey, type CacheSpec, type CacheType, type LoadedCache } from './types.ts';

export interface CacheEnvironment {
  registry: () => Promise<RegistryClient>;
  /** Where relative `src`/`dest` paths start. */
  cwd: string;
  /** Variables `type=gha` reads (ACTIONS_RESULTS_URL, ACTIONS_RUNTIME_TOKEN). */
  env: Readonly<Record<string, string | undefined>>;
  platform: Platform;
  emit: ProgressSink;
  signal: AbortSignal;
}

/** Read every `--cache-from`; those that cannot be read are warnings, not failures. */
export async function loadCaches(
  specs: readonly CacheSpec[],
  environment: CacheEnvironment,
): Promise<LoadedCache[]> {
  const loaded = await Promise.all(
    specs.map(async (spec) => {
      const what = describeSpec(spec);
      const id = `cache-import-${what.replace(/\W+/g, '-')}`;
      const name = `importing cache manifest from ${what}`;
      return inTask(environment.emit, id, name, async () => {
        try {
          const cache = await sourceOf(spec, environment).load(environment.signal);
          if (!cache) warn(environment.emit, `cache ${what} not found: building without it`);
          return cache;
        } catch (error) {
          if (environment.signal.aborted) throw error;
          warn(
            environment.emit,
            `cache ${what} could not be read (${(error as Error).message}): building without it`,
          );
          return undefined;
        }
      });
    }),
  );
  return loaded.filter((c): c is LoadedCache => c !== undefined);
}

export interface ExportInput {
  store: Store;
  /** Every cache key the build computed (the solver's keys of each graph). */
  keys: Iterable<Digest>;
  /** Top snapshots of the built images. */
  roots: ReadonlyArray<SnapshotId | null>;
}

/**
 * Write every `--cache-to` but inline (which the image config carries); the refs
 * written, for --metadata-file. A failure throws, or warns with `ignore-error=true`.
 */
export async function exportCaches(
  specs: readonly CacheSpec[],
  input: ExportInput,
  environment: CacheEnvironment,
): Promise<string[]> {
  const refs: string[] = [];
  for (const spec of specs) {
    if (spec.type === 'inline') continue;
    const what = describeSpec(spec);
    const id = `cache-export-${what.replace(/\W+/g, '-')}`;
    const name = `exporting cache to ${what}`;
    await inTask(environment.emit, id, name, async (started) => {
      try {
        const target = targetOf(spec, environment);
        const compression = compressionOf(spec);
        const records = await collectRecords(input.store, input.keys, {
          mode: modeOf(spec),
          roots: input.roots,
          compression,
          ...(spec.attrs['compression-level'] !== undefined
            ? { compressionLevel: Number(spec.attrs['compression-level']) }
            : {}),
          forceCompression: spec.attrs['force-compression'] === 'true',
        });
        const { config, blobs } = buildCacheConfig(records);
        const cache: CacheExport = {
          config,
          blobs,
          // A lazy layer's blob (ADR 11) streams from the cache it came from.
          openBlob: (digest) => openBlob(input.store, digest, environment.signal),
          blobPath: (digest) => {
            const file = input.store.blobs.path(digest);
            return existsSync(file) ? file : undefined;
          },
          mountFrom: (digest) => mountSourceOf(input.store, digest),
        };
        const report = (status: string) =>
          environment.emit({
            type: 'task.status',
            time: Date.now(),
            id,
            status,
            durationMs: Date.now() - started,
          });
        report(`${records.length} cache records, ${blobs.length} layers`);
        const written = await target.write(cache, environment.signal, report);
        refs.push(written.ref);
      } catch (error) {
        if (environment.signal.aborted) throw error;
        if (spec.attrs['ignore-error'] !== 'true') throw new CacheExportError(what, error);
        warn(
          environment.emit,
          `exporting cache to ${what} failed (${(error as Error).message}); ignored (ignore-error=true)`,
        );
      }
    });
  }
  return refs;
}

/**
 * The inline cache for an image whose top snapshot is `root`: the records of its own
 * layers (mode=min), base64 JSON as BuildKit puts it in the config. Undefined when no
 * `--cache-to type=inline` was given.
 */
export async function inlineCacheValue(
  specs: readonly CacheSpec[],
  store: Store,
  keys: Iterable<Digest>,
  root: SnapshotId | null,
): Promise<string | undefined> {
  if (!specs.some((s) => s.type === 'inline')) return undefined;
  const records = await collectRecords(store, keys, {
    mode: 'min',
    roots: [root],
    // The image's own blobs: commitImage makes gzip ones.
    compression: 'gzip',
    forceCompression: true,
  });
  return Buffer.from(JSON.stringify(buildCacheConfig(records).config)).toString('base64');
}

function sourceOf(spec: CacheSpec, environment: CacheEnvironment): CacheSource {
  const { attrs } = spec;
  switch (spec.type) {
    case 'local':
      return localCacheSource(path.resolve(environment.cwd, attrs.src!), {
        tag: attrs.tag ?? 'latest',
        ...(attrs.digest ? { digest: attrs.digest as Digest } : {}),
      });
    case 'registry':
    case 'inline':
      return registryCacheSource(environment.registry, attrs.ref!, environment.platform);
    case 'gha':
      return ghaCacheSource(ghaOptions(spec, environment));
  }
}

function targetOf(spec: CacheSpec, environment: CacheEnvironment): CacheTarget {
  const { attrs } = spec;
  const manifest = {
    imageManifest: attrs['image-manifest'] !== 'false',
    ociMediaTypes: attrs['oci-mediatypes'] !== 'false',
  };
  switch (spec.type) {
    case 'local':
      return localCacheTarget(
        path.resolve(environment.cwd, attrs.dest!),
        attrs.tag ?? 'latest',
        manifest,
      );
    case 'registry':
      return registryCacheTarget(environment.registry, attrs.ref!, manifest);
    case 'gha':
      return ghaCacheTarget(ghaOptions(spec, environment));
    case 'inline':
      throw new UsageError('internal: the inline cache is written into the image config');
  }
}

/** `url_v2=` / `token=`, else the job's ACTIONS_RESULTS_URL and ACTIONS_RUNTIME_TOKEN. */
function ghaOptions(spec: CacheSpec, environment: CacheEnvironment): GhaOptions {
  const { attrs } = spec;
  const url = attrs.url_v2 ?? environment.env.ACTIONS_RESULTS_URL;
  const token = attrs.token ?? environment.env.ACTIONS_RUNTIME_TOKEN;
  if (!url || !token)
    throw new GhaCacheError(
      `type=gha needs the cache service's URL and token: ${!url ? 'ACTIONS_RESULTS_URL (or url_v2=)' : 'ACTIONS_RUNTIME_TOKEN (or token=)'} is not set`,
    );
  return {
    url,
    token,
    scope: attrs.scope ?? 'buildkit',
    timeoutMs: durationMs(attrs.timeout ?? '10m'),
  };
}

/** Go's durations as buildx takes them: `90s`, `10m`, `1h`, `500ms`. */
function durationMs(text: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(text);
  const value = Number(match?.[1] ?? 600);
  const unit = match?.[2] ?? 's';
  return value * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!;
}

function modeOf(spec: CacheSpec): CacheMode {
  return spec.attrs.mode === 'max' ? 'max' : 'min';
}

function compressionOf(spec: CacheSpec): Compression {
  return (spec.attrs.compression as Compression | undefined) ?? 'gzip';
}

/** `registry localhost:5000/app:cache`, `local ./cache`, `gha scope=buildkit`. */
export function describeSpec(spec: CacheSpec): string {
  const { attrs } = spec;
  switch (spec.type) {
    case 'local':
      return `local ${attrs.dest ?? attrs.src}`;
    case 'registry':
    case 'inline':
      return `${spec.type}${attrs.ref ? ` ${attrs.ref}` : ''}`;
    case 'gha':
      return `gha scope=${attrs.scope ?? 'buildkit'}`;
  }
}

function warn(emit: ProgressSink, message: string): void {
  emit({ type: 'warning', time: Date.now(), message });
}
