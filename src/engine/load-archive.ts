/**
 * `tbuild load`: images from a docker archive (`manifest.json`, as `docker save` writes it
 * both before and since 25.0, and as skopeo's `docker-archive:` does) or an OCI layout tar
 * (`index.json`) into the store. The archive is read once, as a stream: blobs go straight
 * into the blob store (those named by digest are verified on the way), the small JSON
 * files are kept in memory, and the layers are then unpacked into snapshots (reused when
 * a snapshot with the same parent and diff_id exists).
 */
import { open } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import type { BlobInfo, SnapshotId, Store } from '../cache/types.ts';
import {
  detectCompression,
  dockerLayerMediaType,
  ociLayerMediaType,
  openDecompressed,
  type Compression,
} from '../exporter/compression.ts';
import { readTarEntries } from '../exporter/tar-reader.ts';
import { selectPlatformManifest } from '../registry/platform-select.ts';
import { normalizeImageName, parseReference } from '../registry/reference.ts';
import { isDigest, type Digest } from '../shared/digest.ts';
import { TbuildError, type TbuildErrorOptions } from '../shared/errors.ts';
import {
  MediaType,
  type Descriptor,
  type ImageConfig,
  type Index,
  type Manifest,
} from '../shared/oci.ts';
import { formatPlatform, type Platform } from '../shared/platform.ts';
import { unpackInto } from './images.ts';

/** The archive is not an image archive tbuild can read, or lacks a file it names. */
export class LoadArchiveError extends TbuildError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_LOAD_ARCHIVE', message, {
      hint: 'Pass a tar written by `docker save`, `tbuild save`, `skopeo copy … docker-archive:` or an OCI layout tar.',
      ...options,
    });
  }
}

export interface LoadArchiveOptions {
  /** Which manifest to take from a multi-platform index (default: this machine's). */
  platform: Platform;
}

export interface LoadedImage {
  /** Normalised names set in the store; empty for an unnamed image. */
  names: string[];
  manifestDigest: Digest;
  configDigest: Digest;
  snapshot: SnapshotId | null;
}

/** A file of the archive: small metadata in memory, everything else in the blob store. */
type ArchiveFile = { data: Buffer } | { blob: BlobInfo };

interface ScannedArchive {
  files: Map<string, ArchiveFile>;
  /** Symlinks and hard links, resolved to archive paths (legacy saves link repeated layers). */
  links: Map<string, string>;
}

const METADATA_LIMIT = 16 * 1024 * 1024;
const BLOB_PATH = /^blobs\/sha256\/([0-9a-f]{64})$/;
const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';
const INDEX_TYPES = new Set<string>([MediaType.OciIndex, MediaType.DockerManifestList]);

/** Load every image of the archive (plain, gzip or zstd tar) into the store. */
export async function loadArchive(
  store: Store,
  input: Readable | AsyncIterable<Uint8Array>,
  options: LoadArchiveOptions,
): Promise<LoadedImage[]> {
  const archive = await scanArchive(store, input);
  const images = archive.files.has('index.json')
    ? await collectOciImages(store, archive, options.platform)
    : archive.files.has('manifest.json')
      ? await collectDockerImages(store, archive)
      : undefined;
  if (!images) throw new LoadArchiveError('the archive has neither manifest.json nor index.json');
  const loaded: LoadedImage[] = [];
  for (const { manifestDigest, names } of images) {
    const manifest = await store.blobs.readJson<Manifest>(manifestDigest);
    const config = await store.blobs.readJson<ImageConfig>(manifest.config.digest);
    const what = names[0] ?? manifest.config.digest;
    const snapshot = await unpackLayers(store, manifest, config, what);
    const normalized = names.map((n) => normalizeImageName(n));
    const record = {
      manifest: manifestDigest,
      config: manifest.config.digest,
      snapshot,
      createdAt: Date.now(),
    };
    for (const name of normalized) store.images.set({ ...record, name });
    // An image without a name is kept as docker keeps it: <none>, found by its ID.
    if (normalized.length === 0) store.images.keepUnnamed(record);
    loaded.push({
      names: normalized,
      manifestDigest,
      configDigest: manifest.config.digest,
      snapshot,
    });
  }
  return loaded;
}

/** Read the tar once: blobs into the store, metadata into memory. */
async function scanArchive(
  store: Store,
  input: Readable | AsyncIterable<Uint8Array>,
): Promise<ScannedArchive> {
  const files = new Map<string, ArchiveFile>();
  const links = new Map<string, string>();
  const { stream } = await openDecompressed(input, () => undefined);
  await readTarEntries(stream, async (entry, body) => {
    const path = posix.normalize(entry.path.replace(/^\/+/, ''));
    if (entry.type === 'symlink' || entry.type === 'link') {
      const target = entry.linkpath ?? '';
      const base = entry.type === 'symlink' ? posix.dirname(path) : '.';
      links.set(path, posix.normalize(posix.join(base, target.replace(/^\/+/, ''))));
      return;
    }
    if (entry.type !== 'file') return;
    const blobHex = BLOB_PATH.exec(path)?.[1];
    if (blobHex !== undefined) {
      const expected = { digest: `sha256:${blobHex}` as Digest, size: entry.size };
      files.set(path, { blob: await store.blobs.ingest(body, expected) });
    } else if (isMetadata(path) && entry.size <= METADATA_LIMIT) {
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk);
      files.set(path, { data: Buffer.concat(chunks) });
    } else {
      // Legacy layer tars (`<id>/layer.tar`, skopeo's `<hex>.tar`): named by nothing we trust.
      files.set(path, { blob: await store.blobs.ingest(body) });
    }
  });
  return { files, links };
}

function isMetadata(path: string): boolean {
  const base = posix.basename(path);
  return ['repositories', 'oci-layout', 'VERSION', 'json'].includes(base) || base.endsWith('.json');
}

/** The file at `path`, following the archive's links. */
function lookup(archive: ScannedArchive, path: string): ArchiveFile {
  let current = posix.normalize(path.replace(/^\/+/, ''));
  for (let hops = 0; hops < 16; hops++) {
    const file = archive.files.get(current);
    if (file) return file;
    const next = archive.links.get(current);
    if (next === undefined) break;
    current = next;
  }
  throw new LoadArchiveError(`the archive has no file ${path}, which its manifest names`);
}

async function readFile(store: Store, file: ArchiveFile): Promise<Buffer> {
  return 'data' in file ? file.data : store.blobs.read(file.blob.digest);
}

/** A file as a blob in the store (metadata kept in memory is stored now). */
async function storeFile(store: Store, file: ArchiveFile): Promise<BlobInfo> {
  return 'data' in file ? store.blobs.put(file.data) : file.blob;
}

interface ImageToLoad {
  manifestDigest: Digest;
  names: string[];
}

/** OCI layout: index.json's manifests (indexes followed to `platform`), named by annotations. */
async function collectOciImages(
  store: Store,
  archive: ScannedArchive,
  platform: Platform,
): Promise<ImageToLoad[]> {
  const index = JSON.parse(
    (await readFile(store, lookup(archive, 'index.json'))).toString('utf8'),
  ) as Index;
  const dockerNames = archive.files.has('manifest.json')
    ? await readDockerManifest(store, archive)
    : [];
  const byManifest = new Map<Digest, string[]>();
  for (const descriptor of index.manifests ?? []) {
    const manifest = await pickManifest(store, descriptor, platform);
    const names = byManifest.get(manifest.digest) ?? [];
    const name = nameOf(descriptor);
    if (name !== undefined) names.push(name);
    byManifest.set(manifest.digest, names);
  }
  for (const [digest, names] of byManifest) {
    if (names.length > 0) continue;
    // Unannotated (e.g. docker save by ID): docker's manifest.json may still name it.
    const manifest = await store.blobs.readJson<Manifest>(digest);
    const entry = dockerNames.find((e) => e.configDigest === manifest.config.digest);
    names.push(...(entry?.repoTags ?? []));
  }
  return [...byManifest].map(([manifestDigest, names]) => ({
    manifestDigest,
    names: [...new Set(names)],
  }));
}

/** The image manifest a descriptor leads to on `platform`, checked to be in the store. */
async function pickManifest(
  store: Store,
  descriptor: Descriptor,
  platform: Platform,
): Promise<Descriptor> {
  let current = descriptor;
  for (let depth = 0; INDEX_TYPES.has(current.mediaType); depth++) {
    await requireBlob(store, current.digest);
    const nested = await store.blobs.readJson<Index>(current.digest);
    const chosen = selectPlatformManifest(nested, platform);
    if (!chosen || depth > 4) {
      throw new LoadArchiveError(
        `the archive's index ${current.digest} has no image for ${formatPlatform(platform)}`,
        { hint: 'Pass --platform with one of the platforms the archive holds.' },
      );
    }
    current = chosen;
  }
  await requireBlob(store, current.digest);
  return current;
}

async function requireBlob(store: Store, digest: Digest): Promise<void> {
  if (!isDigest(digest) || !(await store.blobs.has(digest)))
    throw new LoadArchiveError(`the archive lacks blob ${digest}, which its index names`);
}

/** An image name from index annotations: containerd's full name, else a name:tag ref.name. */
function nameOf(descriptor: Descriptor): string | undefined {
  const annotations = descriptor.annotations ?? {};
  const full = annotations[CONTAINERD_NAME];
  if (full) return full;
  const ref = annotations[REF_NAME];
  // A bare tag ("1.0") names no repository; only `repo:tag` forms name an image.
  if (!ref || !/[:/]/.test(ref)) return undefined;
  try {
    parseReference(ref);
    return ref;
  } catch (error) {
    if (error instanceof TbuildError) return undefined;
    throw error;
  }
}

interface DockerManifestEntry {
  configDigest: Digest;
  config: BlobInfo;
  repoTags: string[];
  layers: BlobInfo[];
}

async function readDockerManifest(
  store: Store,
  archive: ScannedArchive,
): Promise<DockerManifestEntry[]> {
  const text = (await readFile(store, lookup(archive, 'manifest.json'))).toString('utf8');
  const entries = JSON.parse(text) as {
    Config: string;
    RepoTags?: string[] | null;
    Layers: string[];
  }[];
  if (!Array.isArray(entries))
    throw new LoadArchiveError("the archive's manifest.json is not a list of images");
  const out: DockerManifestEntry[] = [];
  for (const entry of entries) {
    const config = await storeFile(store, lookup(archive, entry.Config));
    const layers: BlobInfo[] = [];
    for (const layer of entry.Layers ?? [])
      layers.push(await storeFile(store, lookup(archive, layer)));
    out.push({ configDigest: config.digest, config, repoTags: entry.RepoTags ?? [], layers });
  }
  return out;
}

/** Docker archive without index.json: a manifest is made for each image (as docker load does). */
async function collectDockerImages(store: Store, archive: ScannedArchive): Promise<ImageToLoad[]> {
  const images: ImageToLoad[] = [];
  for (const entry of await readDockerManifest(store, archive)) {
    const kinds = await Promise.all(entry.layers.map((l) => sniffCompression(store, l.digest)));
    const oci = kinds.includes('zstd');
    // Docker media types have no zstd: such an image gets an OCI manifest.
    const layerType = (kind: Compression): string =>
      oci ? ociLayerMediaType(kind) : dockerLayerMediaType(ociLayerMediaType(kind));
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: oci ? MediaType.OciManifest : MediaType.DockerManifest,
      config: {
        mediaType: oci ? MediaType.OciConfig : MediaType.DockerConfig,
        digest: entry.config.digest,
        size: entry.config.size,
      },
      layers: entry.layers.map((l, i) => ({
        mediaType: layerType(kinds[i]!),
        digest: l.digest,
        size: l.size,
      })),
    };
    const info = await store.blobs.put(JSON.stringify(manifest));
    images.push({ manifestDigest: info.digest, names: entry.repoTags });
  }
  return images;
}

async function sniffCompression(store: Store, digest: Digest): Promise<Compression> {
  const handle = await open(store.blobs.path(digest), 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    return detectCompression(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

/** Unpack the manifest's layers in order; each diff_id is checked by unpackInto. */
async function unpackLayers(
  store: Store,
  manifest: Manifest,
  config: ImageConfig,
  what: string,
): Promise<SnapshotId | null> {
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw new LoadArchiveError(
      `${what}: the config lists ${diffIds.length} layers (diff_ids) but the manifest has ${manifest.layers.length}`,
      { hint: 'The archive is corrupt; save the image again.' },
    );
  }
  let parent: SnapshotId | null = null;
  for (const [i, layer] of manifest.layers.entries()) {
    const diffId = diffIds[i]!;
    const existing = store.snapshots.findByDiffId(parent, diffId);
    if (existing) {
      parent = existing.id;
      continue;
    }
    if (!(await store.blobs.has(layer.digest)))
      throw new LoadArchiveError(`${what}: the archive lacks layer ${layer.digest}`);
    parent = await unpackInto(
      store,
      parent,
      layer.digest,
      diffId,
      layer.mediaType,
      layer.size,
      what,
    );
  }
  return parent;
}
