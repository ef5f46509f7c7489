/**
 * The build API's types: what a front door (the CLI, watch mode, the GitHub Action, a
 * program) hands the builder, and what it gets back. Options are typed values, not CLI
 * strings; `specs/` turns buildx's string syntax into them for the front doors that take it.
 */
import type { Entitlement as FrontendEntitlement } from '../frontend/index.ts';
import type { Readable, Writable } from 'node:stream';
import type { CredentialStore } from '../registry/credentials.ts';
import type { Digest } from '../shared/digest.ts';
import type { Descriptor } from '../shared/oci.ts';
import type { ProgressSink } from '../shared/progress.ts';
import type { SourceLocation } from '../shared/errors.ts';
import type { CacheSpec } from '../remote-cache/index.ts';

export type { CacheSpec, CacheType } from '../remote-cache/index.ts';

/** Options of the builder itself: what every build it runs shares. */
export interface BuilderOptions {
  /** The store directory (default: `$TBUILD_ROOT`, `/var/lib/tbuild` as root, else XDG). */
  root?: string;
  /** Steps run at once (default: the number of cores). */
  parallelism?: number;
  /** Registries (`host:port`) reached over plain HTTP besides loopback ones. */
  insecureRegistries?: readonly string[];
  /** Registry credentials (default: `~/.docker/config.json` and its helpers). */
  credentials?: CredentialStore;
  /** The environment defaults come from (store root, credentials, HTTPS_PROXY…); default: none. */
  env?: Readonly<Record<string, string | undefined>>;
}

export type OutputType = 'docker' | 'oci' | 'local' | 'tar' | 'image' | 'registry';

/** One `--output`, as buildx takes it. */
export interface OutputSpec {
  type: OutputType;
  /** File or directory; `-` is the build's stdout. */
  dest?: string;
  /** Image names for image, registry and docker outputs. */
  names: string[];
  push: boolean;
  /** Other attributes as given (compression, oci-mediatypes, tar, rewrite-timestamp…). */
  attrs: Readonly<Record<string, string>>;
}

/** A secret for `RUN --mount=type=secret`: a file, or an environment variable of the run. */
export type SecretSpec = { id: string; file: string } | { id: string; env: string };

export interface HostEntry {
  host: string;
  ip: string;
}

export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

export type NetworkMode = 'default' | 'host' | 'none';

/** What `allow` may grant, as buildx's `--allow`. */
export type Entitlement = FrontendEntitlement;

/** One build, as `docker buildx build` takes it, in typed form. */
export interface BuildOptions {
  /**
   * The context: a directory, `-` (a tar archive or a Dockerfile on the run's stdin), a
   * git repository URL or an http(s) URL. Relative paths are from the run's `cwd`.
   * Default `.`.
   */
  context?: string;
  /** The Dockerfile's path (default `<context>/Dockerfile`); `-` reads it from stdin. */
  file?: string;
  /** The Dockerfile's text itself, instead of reading `file`. */
  dockerfile?: string;
  tags?: readonly string[];
  buildArgs?: Readonly<Record<string, string>>;
  target?: string;
  /** `os/arch[/variant]` (default: this machine's). */
  platform?: string;
  noCache?: boolean;
  /** Stages not to take from the cache. */
  noCacheFilter?: readonly string[];
  /**
   * Caches to import (`--cache-from`, buildx syntax through `parseCacheSpec`): local
   * directories, registry refs, images with an inline cache, the GitHub Actions cache.
   */
  cacheFrom?: readonly CacheSpec[];
  /** Where to export the build's cache (`--cache-to`). */
  cacheTo?: readonly CacheSpec[];
  /** Always look for newer base images in their registry. */
  pull?: boolean;
  outputs?: readonly OutputSpec[];
  /** Shorthand for an image output with push=true, named by `tags`. */
  push?: boolean;
  /** Hand the image to a running Docker daemon (`docker load`). */
  load?: boolean;
  /** Write the image ID here after a successful build. */
  iidfile?: string;
  /** Write the result's metadata (as buildx's --metadata-file) here. */
  metadataFile?: string;
  secrets?: readonly SecretSpec[];
  /** SSH agent sockets for `RUN --mount=type=ssh`, by id (`default`, …). */
  sshAgents?: Readonly<Record<string, string>>;
  /**
   * Named contexts (`--build-context NAME=VALUE`): a directory, `docker-image://REF`, a git
   * URL or an https archive.
   */
  buildContexts?: Readonly<Record<string, string>>;
  extraHosts?: readonly HostEntry[];
  /** Bytes of /dev/shm for RUN (default 64 MiB). */
  shmSize?: number;
  ulimits?: readonly Ulimit[];
  /**
   * RUN's network: `default` is a namespace of its own with outbound access (the host's
   * loopback out of reach); `host` needs the network.host entitlement in `allow`.
   */
  network?: NetworkMode;
  /** Entitlements (`--allow`): network.host for host networking, security.insecure. */
  allow?: readonly Entitlement[];
  labels?: Readonly<Record<string, string>>;
}

/** What a caller gives one build besides its options: the caller owns all of these. */
export interface BuildRun {
  /** Cancels the build: containers are stopped and mounts removed before it rejects. */
  signal?: AbortSignal;
  /** Progress events, for a renderer (see src/progress). */
  onProgress?: ProgressSink;
  /** Read for a context or a Dockerfile of `-`. */
  stdin?: Readable;
  /** Written by outputs with `dest=-`. */
  stdout?: Writable;
  /** Where relative paths start (default: the process's working directory at build time). */
  cwd?: string;
  /**
   * Variables that `--build-arg KEY` without a value, env secrets and SOURCE_DATE_EPOCH
   * read (default: none).
   */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Absolute paths a file watcher saw change since this builder's previous build. When
   * given, contexts the builder scanned before are read again only there, with no listing
   * of the whole context; the watcher is trusted for the rest. Leave it out to list.
   */
  changedPaths?: readonly string[];
}

/** One step of the build as it went. */
export interface StepResult {
  digest: Digest;
  name: string;
  location?: SourceLocation | undefined;
  /** `cached`: answered from the cache; `ran`: executed. */
  status: 'cached' | 'ran';
  durationMs?: number;
  /** Why the cache missed, for a step that ran. */
  cacheMiss?: string;
}

export interface BuildWarning {
  message: string;
  /** The build check that raised it, e.g. `JSONArgsRecommended`. */
  rule?: string | undefined;
  location?: SourceLocation | undefined;
}

/** buildx's metadata file, as `--metadata-file` writes it. */
export interface BuildMetadata {
  'containerimage.digest': Digest;
  /** Absent for a multi-platform build: its result is an index, which has no config. */
  'containerimage.config.digest'?: Digest;
  'containerimage.descriptor': Descriptor;
  'image.name'?: string;
  /** Where `--cache-to` wrote the cache (tbuild's own key; buildx writes none). */
  'tbuild.cache.exported'?: string[];
  /** The `--cache-from` caches that could be read. */
  'tbuild.cache.imported'?: string[];
}

export interface BuildResult {
  /** The image ID: the config's digest; for a multi-platform build, the index digest. */
  imageId: Digest;
  /** The manifest's digest (what a push makes the image's digest). */
  manifestDigest: Digest;
  metadata: BuildMetadata;
  /** The image's compressed layers and config: what a registry stores for it. */
  image: { layers: number; size: number };
  /** A multi-platform build's platforms (`linux/amd64`…), in the index's order. */
  platforms?: string[];
  warnings: BuildWarning[];
  /** Every step the target needed, in the order they finished. */
  steps: StepResult[];
  /**
   * Set when the same build, run again, must give this result while its local inputs and
   * the store stay as they are: every source was local (the context, images in the store;
   * no ADD of a URL or a git repository) and the store's generation (see `Store`) did not
   * move while the build ran, so the build added or replaced nothing. The CLI's
   * up-to-date check keeps it (ADR 23).
   */
  repeatable?: { storeGeneration: string };
}
