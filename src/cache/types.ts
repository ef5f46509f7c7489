/**
 * The store's contract: content-addressed blobs, layer snapshots, the cache index and
 * image references, under one root directory. One store serves many concurrent builds
 * (several processes); a process killed at any point leaves it consistent.
 */
import type { Readable } from 'node:stream';
import type { Digest } from '../shared/digest.ts';

export interface BlobInfo {
  digest: Digest;
  size: number;
}

export interface BlobStore {
  /** `<root>/blobs/sha256/<hex>`; the file exists only once complete and verified. */
  path(digest: Digest): string;
  has(digest: Digest): Promise<boolean>;
  /** Size in bytes, or undefined when absent. */
  size(digest: Digest): Promise<number | undefined>;
  /** Write bytes; returns their digest. Idempotent. */
  put(data: Uint8Array | string): Promise<BlobInfo>;
  /**
   * Stream into the store: written to a temp file, hashed, verified against `expected`
   * (throws a typed digest-mismatch error and keeps nothing if it differs), then renamed.
   */
  ingest(
    source: Readable | AsyncIterable<Uint8Array>,
    expected?: { digest: Digest; size?: number },
  ): Promise<BlobInfo>;
  read(digest: Digest): Promise<Buffer>;
  readJson<T>(digest: Digest): Promise<T>;
  stream(digest: Digest): Readable;
  delete(digest: Digest): Promise<void>;
  list(): AsyncIterable<BlobInfo>;
}

export type SnapshotId = number;

export interface SnapshotInfo {
  id: SnapshotId;
  parent: SnapshotId | null;
  /** The layer's diff directory in overlayfs upperdir form (whiteouts = char 0:0). */
  dir: string;
  /** Overlay workdir for this snapshot while it is being written. */
  workDir: string;
  committed: boolean;
  /** Uncompressed layer tar digest, once computed (export or pull). */
  diffId?: Digest;
  /** Bytes of that tar, when tbuild wrote it (not for a pulled layer). */
  tarSize?: number;
  /** Bytes used by `dir`, once committed. */
  size?: number;
  createdAt: number;
  lastUsedAt: number;
  /** Free text for `du` / debugging, e.g. the vertex description. */
  description?: string;
}

export interface SnapshotStore {
  /** `<root>/snapshots` — overlay mounts use paths relative to it to stay short. */
  readonly dir: string;
  /** A new, empty, uncommitted snapshot on top of `parent`. */
  create(parent: SnapshotId | null, description?: string): Promise<SnapshotInfo>;
  /**
   * Freeze a snapshot: it is never written again. Records its size. `createdAt` keeps the
   * time of the layer it was unpacked from (an imported cache), which image history uses.
   * `lazy` commits it without its directory: a layer of an imported cache that is unpacked
   * (from its blob, see engine/lazy-layers.ts) only when first mounted or exported.
   * `sizeFromHash` leaves a large layer's size to setDiffId: its hash walks every entry
   * anyway, so the commit does not walk them once more first.
   */
  commit(
    id: SnapshotId,
    meta?: { diffId?: Digest; createdAt?: number; lazy?: boolean; sizeFromHash?: boolean },
  ): Promise<SnapshotInfo>;
  get(id: SnapshotId): SnapshotInfo | undefined;
  /** The snapshot and its ancestors, nearest first (the overlay lowerdir order). */
  chain(id: SnapshotId): SnapshotInfo[];
  /**
   * Record the layer tar's digest (and its size, when known), and the snapshot's size when
   * the commit left it to the hash (`contentBytes`).
   */
  setDiffId(id: SnapshotId, diffId: Digest, tarSize?: number, contentBytes?: number): void;
  /** Find a committed snapshot by (parent, diffId) — pulled layers are unpacked once. */
  findByDiffId(parent: SnapshotId | null, diffId: Digest): SnapshotInfo | undefined;
  /** Compressed blobs already made from a snapshot, for reuse on export/push. */
  layerBlobs(id: SnapshotId): LayerBlob[];
  addLayerBlob(id: SnapshotId, blob: LayerBlob): void;
  remove(id: SnapshotId): Promise<void>;
  list(): SnapshotInfo[];
  /** Mark as used now (for LRU prune). */
  touch(id: SnapshotId): void;
}

export interface LayerBlob {
  digest: Digest;
  size: number;
  mediaType: string;
  /** `gzip`, `zstd`, `uncompressed`. */
  compression: string;
}

/** One result of a cached vertex: a snapshot, or nothing (empty filesystem). */
export type CachedResult = { snapshot: SnapshotId } | { empty: true };

export interface CacheRecord {
  key: Digest;
  results: CachedResult[];
  createdAt: number;
  lastUsedAt: number;
  description?: string;
}

/** The cache index: cache key → results. Exportable (list) and importable (put). */
export interface CacheIndex {
  get(key: Digest): CacheRecord | undefined;
  put(key: Digest, results: CachedResult[], description?: string): void;
  delete(key: Digest): void;
  list(): CacheRecord[];
}

export interface ImageRecord {
  /**
   * Normalised name, e.g. `docker.io/library/app:1.0`; for an image without a name
   * (docker's `<none>`: an untagged build, an unnamed archive) its config digest.
   */
  name: string;
  /** Digest of the manifest blob in the blob store. */
  manifest: Digest;
  /** Digest of the config blob. */
  config: Digest;
  /** Snapshot holding the image's top layer, or null for an image with no layers. */
  snapshot: SnapshotId | null;
  createdAt: number;
}

export interface ImageRefs {
  get(name: string): ImageRecord | undefined;
  /** Name an image; an unnamed record of the same image goes (it has a name now). */
  set(record: ImageRecord): void;
  /** Keep an image without a name, unless it already has one (docker's `<none>` image). */
  keepUnnamed(record: Omit<ImageRecord, 'name'>): void;
  /** Remove unnamed images (prune -a); returns how many. */
  deleteUnnamed(): number;
  delete(name: string): boolean;
  list(): ImageRecord[];
}

/** Steps' last cache-key facts by identity (opaque JSON; see the solver's KeyHistory). */
export interface KeyHistoryStore {
  get(identity: string): string | undefined;
  put(identity: string, facts: string): void;
}

export interface Store {
  readonly root: string;
  readonly blobs: BlobStore;
  readonly snapshots: SnapshotStore;
  readonly cache: CacheIndex;
  readonly images: ImageRefs;
  readonly keyHistory: KeyHistoryStore;
  /**
   * Changes to what a build reads from the store (names, cache records, snapshots), by
   * any process, counted; use times do not count. Equal at two moments: nothing a build
   * depends on changed in between (the CLI's up-to-date check, ADR 23).
   */
  generation(): string;
  /** Cross-process lock (cache mounts with sharing=locked, GC). Released by the returned fn. */
  lock(name: string, signal?: AbortSignal): Promise<() => Promise<void>>;
  /** lock() without waiting: undefined when another process holds it. */
  tryLock(name: string): (() => Promise<void>) | undefined;
  /** A fresh private temp directory under the store, removed on close and by the next open's cleanup. */
  tempDir(prefix: string): Promise<string>;
  /**
   * A fresh directory under `<root>/mounts/` to mount on (overlay merged dirs, bind
   * targets). Mounts left there by a dead process are unmounted by the next open.
   */
  mountDir(prefix: string): Promise<string>;
  /** What opening the store cleaned up after dead processes. */
  readonly recovery: RecoveryReport;
  /**
   * The directory of `RUN --mount=type=cache` with this id; a new one is first made by
   * `seed` in a temp directory (it sets owner, mode and any `from=` content).
   */
  cacheMount(id: string, seed: (dir: string) => Promise<void>): Promise<string>;
  /** Remove cache records (and cache mounts) by the options, then everything nothing references. */
  prune(options?: PruneOptions): Promise<PruneResult>;
  /** Disk usage per snapshot, and totals. */
  du(): Promise<DiskUsage>;
  close(): void;
}

export interface OpenStoreOptions {
  /** Store directory; default `defaultStoreRoot()`. */
  root?: string;
}

/** What recovery removed; all empty after a clean shutdown. */
export interface RecoveryReport {
  /** Stale mount points detached. */
  unmounted: string[];
  /** Temp and mount directories of dead processes. */
  removedTemp: string[];
  /** Uncommitted snapshots whose creating process died. */
  removedSnapshots: SnapshotId[];
  /** Snapshot directories with no database row. */
  removedOrphanDirs: string[];
  /** Locks held by dead processes. */
  releasedLocks: string[];
  /** Committed snapshots whose size their dead creator left to a hash that never ended. */
  measuredSnapshots: SnapshotId[];
}

export interface PruneOptions {
  /** Remove every cache record (images and what they use stay). */
  all?: boolean;
  /**
   * Remove cache records not used for this long. Layers and blobs used more recently stay
   * even when nothing references them (`--filter until=` spares anything newer).
   */
  olderThanMs?: number;
  /** Remove least-recently-used cache records until the store holds at most this many bytes. */
  keepStorageBytes?: number;
}

export interface PruneResult {
  removedCacheRecords: number;
  /** Cache mount directories removed (only with `all` or `olderThanMs`, and only when no other process has the store open). */
  removedCacheMounts: number;
  /** Images without a name removed (only with `all`). */
  removedUnnamedImages: number;
  removedSnapshots: SnapshotId[];
  removedBlobs: Digest[];
  reclaimedBytes: number;
}

export interface SnapshotUsage extends SnapshotInfo {
  size: number;
  /** Part of a tagged image's layer chain. */
  inUse: boolean;
  /** `prune -a` would remove it. */
  reclaimable: boolean;
}

export interface DiskUsage {
  snapshots: SnapshotUsage[];
  blobs: { count: number; bytes: number };
  cacheRecords: number;
  /** Directories of RUN --mount=type=cache (all reclaimable). */
  cacheMounts: { count: number; bytes: number };
  totals: {
    snapshotBytes: number;
    blobBytes: number;
    totalBytes: number;
    reclaimableBytes: number;
  };
}
