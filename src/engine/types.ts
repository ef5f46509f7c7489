/**
 * The engine: the solver's Worker for LLB ops on tbuild's store, runc and overlayfs.
 */
import type { SnapshotId, Store } from '../cache/types.ts';
import type { RunEmulation } from '../exec/emulation.ts';
import type { Executor } from '../exec/types.ts';
import type { Digest, Platform } from '../llb/types.ts';
import type { ImageConfig } from '../shared/oci.ts';
import type { ProgressSink } from '../shared/progress.ts';
import type { ContextCache, ContextChanges, Listing, LocalContext } from './context/index.ts';

/** A result of an op: a committed snapshot chain, nothing, or the local build context. */
export type Ref =
  | { kind: 'snapshot'; id: SnapshotId }
  | { kind: 'empty' }
  | { kind: 'local'; root: string; context: LocalContext };

/**
 * A secret for RUN --mount=type=secret: a file read when a step mounts it, or a value the
 * caller read already (`--secret id=…,env=…` takes it from the build's environment).
 */
export interface SecretSource {
  id: string;
  file?: string;
  value?: string;
}

/** How the engine finds base images (local store first, then a registry). */
export interface ImageSourceProvider {
  /** Manifest digest and config, without fetching layers (the frontend needs the config). */
  resolve(ref: string, platform: Platform, pull: boolean): Promise<ResolvedImage>;
  /** Make sure the image's layers are unpacked as snapshots; the top one, or null for none. */
  materialize(
    image: ResolvedImage,
    signal: AbortSignal,
    progress: (id: string, current: number, total?: number) => void,
  ): Promise<SnapshotId | null>;
}

export interface ResolvedImage {
  /** Normalised reference, e.g. `docker.io/library/busybox:latest`. */
  ref: string;
  manifestDigest: Digest;
  config: ImageConfig;
  /** The config's digest, when known (an image from the store). */
  configDigest?: Digest;
  /** Where it came from. */
  origin: 'store' | 'registry';
}

export interface EngineOptions {
  store: Store;
  executor: Executor;
  images: ImageSourceProvider;
  /** Host directories of local sources by name (`context`, named contexts). */
  localDirs: Record<string, string>;
  /**
   * Listings of local sources started before the engine loaded (startListing), by name;
   * used when their root and patterns match the source's.
   */
  listings?: Record<string, Listing>;
  /**
   * The contexts' scan state, kept across builds by a long-lived builder (the stat cache
   * stays loaded, trees are remembered); default: one for this build.
   */
  contexts?: ContextCache;
  /**
   * What a file watcher saw change since the previous build with the same `contexts`:
   * local sources scanned before are then updated from it instead of listed again.
   */
  contextChanges?: ContextChanges;
  secrets?: SecretSource[];
  /** SSH agent sockets for RUN --mount=type=ssh, by id (`--ssh default`, `--ssh id=<socket>`). */
  sshAgents?: Record<string, string>;
  /**
   * Network for RUN steps that do not name one (`--network` of the build): default
   * `isolated`, a namespace of its own with outbound access (src/exec/network.ts).
   */
  defaultNetwork?: 'isolated' | 'host' | 'none';
  /**
   * RUN steps of foreign platforms (by `os/arch[/variant]`) that run under QEMU registered
   * in their own user namespace; others run as they are (see exec/emulation.ts).
   */
  emulation?: ReadonlyMap<string, RunEmulation | undefined>;
  /** Build-wide progress sink for work outside vertices. */
  onProgress?: ProgressSink;
  /**
   * Whether the vertex's result is a layer of the image (set by the worker): its extended
   * attributes are then read while its overlay is unmounted, for the export's hash.
   */
  isImageLayer?: (digest: Digest) => boolean;
}
