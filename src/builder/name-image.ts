/**
 * The store's side of `exporting to image`: the built image recorded under each `-t`
 * name, or kept as a `<none>` image (found by its ID) when nothing names it and no other
 * output takes it, as `docker build .` does. Reported as BuildKit reports it.
 */
import type { Store } from '../cache/types.ts';
import type { CommittedImage } from '../engine/commit-image.ts';
import type { CommittedIndex } from '../engine/commit-index.ts';
import { normalizeImageName } from '../registry/reference.ts';
import type { ResolvedBuildOptions } from './options.ts';
import type { TaskStatus } from './task.ts';

export async function nameImage(
  store: Store,
  options: ResolvedBuildOptions,
  committed: CommittedImage,
  status: TaskStatus,
): Promise<void> {
  const image = {
    manifest: committed.manifest.descriptor.digest,
    config: committed.config.descriptor.digest,
    snapshot: committed.snapshot,
    createdAt: Date.now(),
  };
  const unnamed = options.tags.length === 0 && options.outputs.length === 0;
  await status(`writing image ${image.config}`, () => {
    if (unnamed) store.images.keepUnnamed(image);
  });
  for (const tag of options.tags) {
    const name = normalizeImageName(tag);
    await status(`naming to ${name}`, () => store.images.set({ ...image, name }));
  }
}

/**
 * A multi-platform result: each platform's image kept as an image of its own without a
 * name (a base for later builds, its snapshots held), and the index under each name; its
 * ID is the index digest, as in Docker's containerd image store.
 */
export async function nameIndex(
  store: Store,
  options: ResolvedBuildOptions,
  committed: CommittedIndex,
  status: TaskStatus,
): Promise<void> {
  const index = {
    manifest: committed.descriptor.digest,
    config: committed.descriptor.digest,
    snapshot: null,
    createdAt: Date.now(),
  };
  const unnamed = options.tags.length === 0 && options.outputs.length === 0;
  await status(`writing image ${index.config}`, () => {
    if (unnamed || options.tags.length > 0) keepPlatformImages(store, committed);
    if (unnamed) store.images.keepUnnamed(index);
  });
  for (const tag of options.tags) {
    const name = normalizeImageName(tag);
    await status(`naming to ${name}`, () => store.images.set({ ...index, name }));
  }
}

/**
 * Each platform's image of an index the store keeps, without a name: a later build's base
 * (FROM the index) finds its snapshots; `tbuild images` lists the index alone.
 */
export function keepPlatformImages(store: Store, committed: CommittedIndex): void {
  for (const { image } of committed.images) {
    store.images.keepUnnamed({
      manifest: image.manifest.descriptor.digest,
      config: image.config.descriptor.digest,
      snapshot: image.snapshot,
      createdAt: Date.now(),
    });
  }
}
