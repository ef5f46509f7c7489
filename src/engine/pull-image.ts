/**
 * `tbuild pull`: an image from a registry into the store — manifest (the platform's, out
 * of an index), config and layers — through the same image provider FROM uses, so a
 * pulled image and a build's base image are stored the same way.
 */
import type { SnapshotId, Store } from '../cache/types.ts';
import type { RegistryClient, ResolvedImage } from '../registry/types.ts';
import type { Digest } from '../shared/digest.ts';
import type { Platform } from '../shared/platform.ts';
import { createImageProvider } from './images.ts';

/** What happened to one layer of the pulled image. */
export type LayerPullEvent =
  | { kind: 'downloading'; digest: Digest; current: number; total?: number | undefined }
  | { kind: 'complete'; digest: Digest }
  | { kind: 'exists'; digest: Digest };

export interface PullImageOptions {
  platform: Platform;
  signal?: AbortSignal;
  /** Per-layer progress, for the CLI to print. */
  onLayer?: (event: LayerPullEvent) => void;
}

export interface PulledImage {
  /** Normalised name the image is stored under, e.g. `localhost:5000/app:1`. */
  name: string;
  /** Digest of the reference as the registry serves it: the index's when it is one. */
  digest: Digest;
  manifestDigest: Digest;
  configDigest: Digest;
  snapshot: SnapshotId | null;
  /** False when the store already held this manifest under this name. */
  updated: boolean;
}

/** Pull `ref` into the store and name it there; layers already unpacked are reused. */
export async function pullImage(
  store: Store,
  registry: () => Promise<RegistryClient>,
  ref: string,
  options: PullImageOptions,
): Promise<PulledImage> {
  let resolved: ResolvedImage | undefined;
  // Record what the registry resolved: the index digest is what `docker pull` prints.
  const recording = async (): Promise<RegistryClient> => {
    const client = await registry();
    return {
      ...client,
      async resolve(input, platform) {
        resolved = await client.resolve(input, platform);
        return resolved;
      },
    };
  };
  const provider = createImageProvider({ store, registry: recording, replaceNames: true });
  const image = await provider.resolve(ref, options.platform, true);
  const before = store.images.get(image.ref);
  const downloaded = new Set<Digest>();
  const signal = options.signal ?? new AbortController().signal;
  const snapshot = await provider.materialize(image, signal, (id, current, total) => {
    downloaded.add(id as Digest);
    options.onLayer?.({ kind: 'downloading', digest: id as Digest, current, total });
  });
  const layers = resolved?.manifest.layers ?? [];
  for (const layer of layers) {
    options.onLayer?.({
      kind: downloaded.has(layer.digest) ? 'complete' : 'exists',
      digest: layer.digest,
    });
  }
  const record = store.images.get(image.ref);
  return {
    name: image.ref,
    digest: resolved?.indexDigest ?? image.manifestDigest,
    manifestDigest: image.manifestDigest,
    configDigest: record?.config ?? (resolved?.manifest.config.digest as Digest),
    snapshot,
    updated: before?.manifest !== image.manifestDigest,
  };
}
