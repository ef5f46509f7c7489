/**
 * Images already in the store, read back: as an assembled image (for push and save), as
 * `docker image inspect` shows one, and as `docker history` lists its layers.
 */
import { BlobNotFoundError } from '../cache/errors.ts';
import { TbuildError } from '../shared/errors.ts';
import { isUnnamedImage } from '../cache/image-refs.ts';
import type { ImageRecord, SnapshotId, Store } from '../cache/types.ts';
import type { AssembledImage } from '../exporter/image.ts';
import { familiarName, parseReference } from '../registry/reference.ts';
import type { Digest } from '../shared/digest.ts';
import {
  MediaType,
  type Descriptor,
  type HistoryEntry,
  type ImageConfig,
  type Index,
  type Manifest,
} from '../shared/oci.ts';
import { matchesPlatform } from '../registry/platform-select.ts';
import { formatPlatform, hostPlatform, type Platform } from '../shared/platform.ts';
import { commitImage } from './commit-image.ts';

/** The stored image's manifest, config and layers as the exporters and pushImage take them. */
export async function readStoredImage(store: Store, record: ImageRecord): Promise<AssembledImage> {
  const manifestBytes = await store.blobs.read(record.manifest);
  const manifest = JSON.parse(manifestBytes.toString('utf8')) as Manifest & Partial<Index>;
  if (Array.isArray(manifest.manifests)) {
    throw new TbuildError(
      'TBUILD_MULTI_PLATFORM_IMAGE',
      `${isUnnamedImage(record) ? record.config : familiarName(parseReference(record.name))} is a multi-platform image (an image index)`,
      {
        hint: 'Push or write it from the build that makes it: --push, -o type=oci or -o type=docker with --platform a,b.',
      },
    );
  }
  const configBytes = await store.blobs.read(manifest.config.digest);
  const config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
  return {
    config: { descriptor: manifest.config, bytes: configBytes },
    manifest: {
      descriptor: {
        mediaType: manifest.mediaType ?? MediaType.OciManifest,
        digest: record.manifest,
        size: manifestBytes.length,
        platform: {
          os: config.os,
          architecture: config.architecture,
          ...(config.variant ? { variant: config.variant } : {}),
        },
      },
      bytes: manifestBytes,
    },
    layers: manifest.layers,
  };
}

/**
 * The stored image with every layer blob present, for push and save. A built image lists
 * its layers uncompressed and without blobs until something needs them (ADR 12); a blob
 * may also have been pruned. Missing blobs are made from the image's snapshots (gzip,
 * remembered for the next push) and the image is re-committed with them: same config, a
 * manifest of compressed layers. Names move to it only when the config changed (a pulled
 * layer whose tar cannot be written again byte for byte).
 */
export async function readCompleteImage(
  store: Store,
  record: ImageRecord,
): Promise<AssembledImage> {
  const image = await readStoredImage(store, record);
  const missing: Descriptor[] = [];
  for (const layer of image.layers) if (!(await store.blobs.has(layer.digest))) missing.push(layer);
  if (missing.length === 0) return image;
  if (record.snapshot === null || !store.snapshots.get(record.snapshot)) {
    throw new BlobNotFoundError(missing[0]!.digest, {
      hint: `Layer blobs of ${familiarName(record.name)} were pruned and its snapshots are gone too; pull or rebuild it.`,
    });
  }
  const config = JSON.parse(image.config.bytes.toString('utf8')) as ImageConfig;
  const oci = image.manifest.descriptor.mediaType === MediaType.OciManifest;
  const committed = await commitImage(
    store,
    { kind: 'snapshot', id: record.snapshot },
    { ...config, rootfs: { type: 'layers', diff_ids: [] } },
    { ociMediaTypes: oci, reuseCompressions: oci ? ['gzip', 'zstd'] : ['gzip'] },
  );
  if (committed.config.descriptor.digest === record.config) return committed;
  for (const other of store.images.list()) {
    if (other.manifest !== record.manifest) continue;
    store.images.set({
      ...other,
      manifest: committed.manifest.descriptor.digest,
      config: committed.config.descriptor.digest,
    });
  }
  return committed;
}

const OCI_FOR_DOCKER: Record<string, string> = {
  [MediaType.DockerConfig]: MediaType.OciConfig,
  [MediaType.DockerLayerGzip]: MediaType.OciLayerGzip,
  [MediaType.DockerLayer]: MediaType.OciLayer,
  [MediaType.DockerManifest]: MediaType.OciManifest,
};

/**
 * The same image under OCI media types (what an OCI layout should hold): the config and
 * layer bytes are unchanged, only the manifest is rewritten (and stored).
 */
export async function convertToOciMediaTypes(
  store: Store,
  image: AssembledImage,
): Promise<AssembledImage> {
  if (image.manifest.descriptor.mediaType === MediaType.OciManifest) return image;
  const swap = (d: Descriptor): Descriptor => ({
    ...d,
    mediaType: OCI_FOR_DOCKER[d.mediaType] ?? d.mediaType,
  });
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: swap(image.config.descriptor),
    layers: image.layers.map(swap),
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const info = await store.blobs.put(bytes);
  return {
    config: { descriptor: manifest.config, bytes: image.config.bytes },
    manifest: {
      descriptor: {
        ...image.manifest.descriptor,
        mediaType: MediaType.OciManifest,
        digest: info.digest,
        size: info.size,
      },
      bytes,
    },
    layers: manifest.layers,
  };
}

/** One image as `docker image inspect` shows it, plus the manifest tbuild stores. */
export interface ImageInspect {
  Id: Digest;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Author: string;
  Config: ImageConfig['config'];
  Architecture: string;
  Variant?: string;
  Os: string;
  Size: number;
  RootFS: { Type: string; Layers: Digest[] };
  Metadata: { LastTagTime: string };
  Descriptor: Descriptor;
  Manifest: Manifest;
  /**
   * A multi-platform image (an index): its platforms' manifests. The other fields then
   * describe the image for this machine's platform (else the first), as Docker's
   * containerd image store shows one.
   */
  Manifests?: Array<{ Platform: string; Descriptor: Descriptor }>;
}

/** One platform of a stored index: its manifest and the image record behind it. */
export interface IndexChild {
  platform: Platform;
  descriptor: Descriptor;
  /** The platform's image as the store keeps it (unnamed), or one made from its blobs. */
  record: ImageRecord;
}

/**
 * The platforms of a stored image index, or undefined when `record` is one image. Entries
 * without a platform or whose manifest is not stored (attestations) are left out.
 */
export async function readIndexChildren(
  store: Store,
  record: ImageRecord,
): Promise<IndexChild[] | undefined> {
  const top = await store.blobs.readJson<Partial<Index>>(record.manifest);
  if (!Array.isArray(top.manifests)) return undefined;
  const children: IndexChild[] = [];
  for (const descriptor of top.manifests) {
    if (!descriptor.platform || descriptor.platform.os === 'unknown') continue;
    if (!(await store.blobs.has(descriptor.digest))) continue;
    const manifest = await store.blobs.readJson<Manifest>(descriptor.digest);
    const config = manifest.config.digest;
    const kept = store.images.get(config);
    children.push({
      platform: descriptor.platform,
      descriptor,
      record:
        kept?.manifest === descriptor.digest
          ? kept
          : {
              name: config,
              manifest: descriptor.digest,
              config,
              snapshot: null,
              createdAt: record.createdAt,
            },
    });
  }
  return children;
}

/** Inspect data for `record`; RepoTags lists every name of the same image in the store. */
export async function inspectImage(store: Store, record: ImageRecord): Promise<ImageInspect> {
  const children = await readIndexChildren(store, record);
  if (children) return inspectIndex(store, record, children);
  const image = await readStoredImage(store, record);
  const config = JSON.parse(image.config.bytes.toString('utf8')) as ImageConfig;
  const manifest = JSON.parse(image.manifest.bytes.toString('utf8')) as Manifest;
  // Its names; an image without one (name = its config digest) has none to list.
  const names = store.images.list().filter((r) => r.config === record.config && !isUnnamedImage(r));
  const refs = names.map((r) => parseReference(r.name));
  const lastTagged = names.length ? Math.max(...names.map((r) => r.createdAt)) : undefined;
  const comment = config.history?.at(-1)?.comment ?? '';
  return {
    Id: record.config,
    RepoTags: refs.filter((r) => r.digest === undefined).map((r) => familiarName(r)),
    RepoDigests: refs.filter((r) => r.digest !== undefined).map((r) => familiarName(r)),
    Parent: '',
    Comment: comment,
    Created: config.created ?? new Date(record.createdAt).toISOString(),
    Author: config.author ?? '',
    Config: config.config,
    Architecture: config.architecture,
    ...(config.variant ? { Variant: config.variant } : {}),
    Os: config.os,
    Size: layerSizes(store, record, manifest).reduce((sum, n) => sum + n, 0),
    RootFS: { Type: config.rootfs.type, Layers: config.rootfs.diff_ids },
    // Docker's zero time for an image never tagged.
    Metadata: {
      LastTagTime:
        lastTagged === undefined ? '0001-01-01T00:00:00Z' : new Date(lastTagged).toISOString(),
    },
    Descriptor: image.manifest.descriptor,
    Manifest: manifest,
  };
}

/** Unpacked size per layer (base first) from the snapshots, else the blobs' sizes. */
function layerSizes(store: Store, record: ImageRecord, manifest: Manifest): number[] {
  const top: SnapshotId | null = record.snapshot;
  if (top !== null && store.snapshots.get(top)) {
    const chain = store.snapshots.chain(top).reverse();
    if (chain.length === manifest.layers.length) return chain.map((s) => s.size ?? 0);
  }
  return manifest.layers.map((l) => l.size);
}

/** One row of `docker history`, newest first. */
export interface HistoryRow {
  /** The image ID on the newest row, `<missing>` on the others (as docker prints them). */
  id: string;
  created?: string;
  createdBy: string;
  size: number;
  comment: string;
  emptyLayer: boolean;
}

/** The config's history with each layer's size, newest first. */
export async function readImageHistory(store: Store, record: ImageRecord): Promise<HistoryRow[]> {
  const config = await store.blobs.readJson<ImageConfig>(record.config);
  const manifest = await store.blobs.readJson<Manifest>(record.manifest);
  const sizes = layerSizes(store, record, manifest);
  const history: HistoryEntry[] = config.history?.length
    ? config.history
    : config.rootfs.diff_ids.map(() => ({}));
  let layer = 0;
  const rows: HistoryRow[] = history.map((entry) => {
    const empty = entry.empty_layer === true;
    const size = empty ? 0 : (sizes[layer++] ?? 0);
    return {
      id: '<missing>',
      ...(entry.created ? { created: entry.created } : {}),
      createdBy: entry.created_by ?? '',
      size,
      comment: entry.comment ?? '',
      emptyLayer: empty,
    };
  });
  rows.reverse();
  if (rows[0]) rows[0].id = record.config;
  return rows;
}

async function inspectIndex(
  store: Store,
  record: ImageRecord,
  children: IndexChild[],
): Promise<ImageInspect> {
  const host = hostPlatform();
  const shown = children.find((c) => matchesPlatform(c.platform, host)) ?? children[0];
  if (!shown) throw new BlobNotFoundError(record.manifest);
  const own = await inspectImage(store, shown.record);
  const names = store.images.list().filter((r) => r.config === record.config && !isUnnamedImage(r));
  const refs = names.map((r) => parseReference(r.name));
  const bytes = await store.blobs.read(record.manifest);
  const index = JSON.parse(bytes.toString('utf8')) as Index;
  return {
    ...own,
    Id: record.config,
    RepoTags: refs.filter((r) => r.digest === undefined).map((r) => familiarName(r)),
    RepoDigests: refs.filter((r) => r.digest !== undefined).map((r) => familiarName(r)),
    Descriptor: {
      mediaType: index.mediaType ?? MediaType.OciIndex,
      digest: record.manifest,
      size: bytes.length,
    },
    Manifests: children.map((c) => ({
      Platform: formatPlatform(c.platform),
      Descriptor: c.descriptor,
    })),
  };
}
