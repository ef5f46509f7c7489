/**
 * Build cache that leaves the machine (`--cache-to` / `--cache-from`): tbuild's cache
 * records (cache key → layer chain) in BuildKit's cache config format
 * (`application/vnd.buildkit.cacheconfig.v0`), stored in a local OCI layout, a registry,
 * an image's config (inline) or the GitHub Actions cache. ADR 11.
 */
import type { Readable } from 'node:stream';
import type { Digest } from '../shared/digest.ts';
import type { Descriptor } from '../shared/oci.ts';

export const CacheConfigMediaType = 'application/vnd.buildkit.cacheconfig.v0';
/** The image-config key an inline cache travels under, as BuildKit names it. */
export const InlineCacheKey = 'moby.buildkit.cache.v0';

export type CacheType = 'local' | 'registry' | 'inline' | 'gha';

/** One `--cache-to` or `--cache-from`, as buildx takes it: a type and its attributes. */
export interface CacheSpec {
  type: CacheType;
  /** Every attribute as given, `type` left out. */
  attrs: Readonly<Record<string, string>>;
}

/** BuildKit's cache config (solver/cacheimport's `CacheConfig`), field for field. */
export interface CacheConfig {
  layers?: CacheLayer[];
  records?: CacheConfigRecord[];
}

export interface CacheLayer {
  blob: Digest;
  /** Index of the parent layer in `layers`; -1 (or absent) for a base layer. */
  parent?: number;
  annotations?: {
    mediaType?: string;
    diffID?: Digest;
    size?: number;
    /** RFC 3339: the time the layer was made; image history times come from it. */
    createdAt?: string;
  };
}

export interface CacheConfigRecord {
  /** tbuild's cache key of the step. */
  digest: Digest;
  /** The step's result: its top layer (the chain follows `parent`). */
  layers?: Array<{ layer: number; createdAt?: string }>;
  /** BuildKit's chained results; tbuild writes `{ layers: [] }` for an empty result. */
  chains?: Array<{ layers: number[]; createdAt?: string }>;
  inputs?: unknown[][];
}

/** One layer of a result's chain, base first. */
export interface ChainLayer {
  descriptor: Descriptor;
  diffId: Digest;
  /** Milliseconds since the epoch. */
  createdAt: number;
}

/** A cached step: its key and its layer chain, base first (empty: an empty filesystem). */
export interface ExportRecord {
  key: Digest;
  chain: ChainLayer[];
}

export type CacheMode = 'min' | 'max';

/** What an exporter writes: the records and where their blobs are read from. */
export interface CacheExport {
  config: CacheConfig;
  /** Every layer blob `config` names, once each. */
  blobs: Descriptor[];
  /** Bytes of a blob of `blobs` (from the store). */
  openBlob(digest: Digest): Readable;
  /** The blob's file in the store, for a hard link instead of a copy (undefined: not stored). */
  blobPath?(digest: Digest): string | undefined;
  /** A registry repository the blob was imported from, for a cross-repo mount. */
  mountFrom?(digest: Digest): string | undefined;
}

/** A cache read for import: its records, and how to fetch a blob it names. */
export interface LoadedCache {
  /** What it was loaded from, for messages (`registry localhost:5000/app:cache`). */
  name: string;
  config: CacheConfig;
  /** Blob bytes; the stream fails rather than deliver bytes of another digest. */
  fetchBlob(descriptor: Descriptor, signal: AbortSignal): Promise<Readable>;
  /** Another repository on a registry that holds the blobs (for cross-repo mounts). */
  registryRepo?: string;
}

/** Reads one `--cache-from`: undefined when there is no cache there (yet). */
export interface CacheSource {
  load(signal: AbortSignal): Promise<LoadedCache | undefined>;
}

/** Writes one `--cache-to`. What it returns goes to --metadata-file and progress. */
export interface CacheTarget {
  write(
    cache: CacheExport,
    signal: AbortSignal,
    report: (status: string) => void,
  ): Promise<{ ref: string }>;
}
