/**
 * `tbuild import`: an image from a root filesystem tarball (plain, gzip or zstd), as
 * `docker import` makes one. The tar is unpacked safely into one snapshot.
 */
import type { Readable } from 'node:stream';
import type { Store } from '../cache/types.ts';
import { unpackLayer } from '../exporter/layer-unpack.ts';
import type { ContainerConfig, ImageConfig } from '../shared/oci.ts';
import type { Platform } from '../shared/platform.ts';
import { commitImage, type CommittedImage } from './commit-image.ts';

export interface ImportOptions {
  platform: Platform;
  /** Config set by `--change` instructions. */
  config?: ContainerConfig;
  /** History comment, like docker import's `-m`. */
  message?: string;
  /** Where the tar came from, for the history entry. */
  source: string;
}

export async function importRootfs(
  store: Store,
  tar: Readable | AsyncIterable<Uint8Array>,
  options: ImportOptions,
): Promise<CommittedImage> {
  const snapshot = await store.snapshots.create(null, `import ${options.source}`);
  let committedId: number | undefined;
  try {
    await unpackLayer(tar, snapshot.dir);
    // No diff_id yet: the first export writes the layer blob and records both, so later
    // builds on this image reuse that blob instead of re-writing the layer each time.
    committedId = (await store.snapshots.commit(snapshot.id)).id;
  } finally {
    if (committedId === undefined) await store.snapshots.remove(snapshot.id);
  }
  const created = new Date().toISOString();
  const config: ImageConfig = {
    created,
    architecture: options.platform.architecture,
    os: options.platform.os,
    ...(options.platform.variant ? { variant: options.platform.variant } : {}),
    config: options.config ?? {},
    rootfs: { type: 'layers', diff_ids: [] },
    history: [
      {
        created,
        created_by: `tbuild import ${options.source}`,
        ...(options.message ? { comment: options.message } : {}),
      },
    ],
  };
  return commitImage(store, { kind: 'snapshot', id: committedId }, config, {
    ociMediaTypes: false,
  });
}
