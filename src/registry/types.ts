/**
 * The registry client's public contract: what the engine (pulls for FROM, pushes for
 * `--push`, registry cache import/export) and the CLI (`login`) use.
 */
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Digest } from '../shared/digest.ts';
import type { ImageConfig, Index, Manifest } from '../shared/oci.ts';
import type { Platform } from '../shared/platform.ts';
import type { CredentialStore, Credentials } from './credentials.ts';
import type { ImageReference } from './reference.ts';

/** An image reference object, or text parsed with parseReference (`localhost:5000/a/b:1`). */
export type ReferenceInput = ImageReference | string;

/** Byte progress of one blob transfer; callers throttle and map it to ProgressEvents. */
export interface TransferProgress {
  action: 'pull' | 'push';
  /** `localhost:5000/team/app`. */
  repository: string;
  digest: Digest;
  current: number;
  total?: number | undefined;
}

export interface RegistryClientOptions {
  /** `host:port` values that may be reached over plain HTTP (loopback always may). */
  insecureRegistries?: readonly string[];
  credentials?: CredentialStore;
  userAgent?: string;
  /** Extra attempts for transient failures (default 3). */
  retries?: number;
  /** First backoff delay in ms (default 250); tests make it small. */
  retryBaseDelayMs?: number;
  /** Blobs larger than this are uploaded in chunks (default 64 MiB). */
  chunkedUploadThreshold?: number;
  /** Bytes per PATCH in a chunked upload (default 16 MiB). */
  chunkSize?: number;
  onProgress?: (progress: TransferProgress) => void;
  /** undici dispatcher to use instead of the client's own agent (then no proxy handling). */
  dispatcher?: Dispatcher;
  /** Time for a response's headers to arrive, per attempt (default 30 s). */
  headersTimeoutMs?: number;
  /** The least a response body must bring per window (default 1 KiB per 30 s). */
  speedFloor?: { minBytes: number; windowMs: number };
  /** Where HTTPS_PROXY, HTTP_PROXY and NO_PROXY are read (default process.env). */
  proxyEnv?: Readonly<Record<string, string | undefined>>;
}

export interface ManifestResult {
  /** Digest of `body` (what the registry calls the manifest by). */
  digest: Digest;
  mediaType: string;
  /** The exact bytes: store these, not a re-serialisation. */
  body: Buffer;
  manifest?: Manifest;
  index?: Index;
  /** Set when `platform` picked this manifest out of an index with this digest. */
  indexDigest?: Digest;
}

export interface ManifestHead {
  digest: Digest;
  mediaType: string;
  size: number;
}

export interface ResolvedImage extends ManifestResult {
  manifest: Manifest;
  config: ImageConfig;
  /** The config blob's exact bytes (its digest is manifest.config.digest). */
  configBody: Buffer;
}

export interface GetManifestOptions {
  /** When the reference names an index, follow it to this platform's manifest. */
  platform?: Platform;
  /** Override the Accept header's media types. */
  accept?: readonly string[];
  signal?: AbortSignal;
}

export interface UploadOptions {
  /** Another repository on the same registry that has the blob: try a cross-repo mount first. */
  mountFrom?: ReferenceInput;
  signal?: AbortSignal;
}

/** How a blob got to the registry. */
export type UploadOutcome = 'exists' | 'mounted' | 'uploaded';

export interface RegistryClient {
  getManifest(ref: ReferenceInput, options?: GetManifestOptions): Promise<ManifestResult>;
  /** HEAD: digest, media type and size without the body. */
  headManifest(
    ref: ReferenceInput,
    options?: { accept?: readonly string[] },
  ): Promise<ManifestHead>;
  /** The manifest for `platform` (default the host's) and its config. */
  resolve(ref: ReferenceInput, platform?: Platform): Promise<ResolvedImage>;
  /**
   * Blob bytes, verified against `digest` (and `size` when given): the stream fails with
   * DigestMismatchError instead of delivering wrong bytes. Pipe it into BlobStore.ingest.
   */
  fetchBlob(
    repo: ReferenceInput,
    digest: Digest,
    options?: { size?: number; signal?: AbortSignal },
  ): Promise<Readable>;
  blobExists(repo: ReferenceInput, digest: Digest): Promise<boolean>;
  uploadBlob(
    repo: ReferenceInput,
    digest: Digest,
    size: number,
    open: () => Readable,
    options?: UploadOptions,
  ): Promise<UploadOutcome>;
  /** PUT a manifest (or index) under the reference's tag, or its digest; returns the body's digest. */
  putManifest(ref: ReferenceInput, body: Buffer | string, mediaType: string): Promise<Digest>;
  /** PUT a multi-platform index (its manifests must be pushed first, by digest). */
  putIndex(ref: ReferenceInput, index: Index): Promise<Digest>;
  /** Check credentials against a registry as `docker login` does; throws RegistryUnauthorizedError. */
  checkLogin(registry: string, credentials: Credentials): Promise<void>;
  close(): Promise<void>;
}
