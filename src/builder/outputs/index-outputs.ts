/**
 * Outputs of a multi-platform build (an image index): the store and registries take the
 * index; archives are OCI layouts holding it; `local` and `tar` get one directory per
 * platform, named as buildx names them (`linux_amd64`, `linux_arm_v7`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { Store } from '../../cache/types.ts';
import { commitIndex, type CommittedIndex, type PlatformImage } from '../../engine/commit-index.ts';
import { fetchLazyBlobs, settleLazyLayers } from '../../engine/lazy-layers.ts';
import { pushIndex } from '../../engine/push.ts';
import { snapshotChain } from '../../engine/store-check.ts';
import { exportIndexLayout } from '../../exporter/index-layout.ts';
import { exportLayersToDirectory, exportMergedToTar } from '../../exporter/filesystem.ts';
import { normalizeImageName } from '../../registry/reference.ts';
import type { RegistryClient } from '../../registry/types.ts';
import { UsageError } from '../../shared/errors.ts';
import { hostPlatform, type Platform } from '../../shared/platform.ts';
import type { ProgressSink } from '../../shared/progress.ts';
import type { ResolvedBuildOptions } from '../options.ts';
import { task } from '../task.ts';
import type { OutputSpec } from '../types.ts';
import { keepPlatformImages } from '../name-image.ts';
import { imageFor, standardOutput } from './archives.ts';

export interface IndexOutputContext {
  store: Store;
  options: ResolvedBuildOptions;
  committed: CommittedIndex;
  emit: ProgressSink;
  registry: () => Promise<RegistryClient>;
  signal: AbortSignal;
  stdout: Writable | undefined;
}

/**
 * `--load` hands `docker load` one image per name: refused before any work for several
 * platforms, with what the daemon can take instead.
 */
export function refuseMultiPlatformLoad(options: ResolvedBuildOptions): void {
  if (!options.load || options.platforms.length < 2) return;
  throw new UsageError(
    `--load cannot take ${options.platforms.length} platforms: the Docker daemon loads one image per name`,
    {
      hint:
        'Build one platform with --load (--platform linux/amd64 --load), push the index (--push), ' +
        'or write it with -o type=docker,dest=image.tar: a daemon on the containerd image store ' +
        'loads every platform of that archive, a classic one the image for its own platform.',
    },
  );
}

/** Directory name of a platform's files, as buildx names it: `linux_arm64`, `linux_arm_v7`. */
export function platformDirName(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('_');
}

/** Every output of the index; returns the index pushed first, if any (the metadata's). */
export async function writeIndexOutputs(
  ctx: IndexOutputContext,
): Promise<CommittedIndex | undefined> {
  let pushed: CommittedIndex | undefined;
  for (const output of ctx.options.outputs) pushed ??= await writeIndexOutput(ctx, output);
  // The store keeps what it names (see write-outputs.ts): unless pushed, the lazy layers'
  // blobs are fetched.
  if (!pushed)
    for (const { image } of ctx.committed.images)
      await settleLazyLayers(ctx.store, image.snapshot, ctx.signal);
  return pushed;
}

async function writeIndexOutput(
  ctx: IndexOutputContext,
  output: OutputSpec,
): Promise<CommittedIndex | undefined> {
  switch (output.type) {
    case 'docker':
    case 'oci':
      await task(ctx.emit, `exporting ${output.type} archive to ${output.dest}`, () =>
        exportIndexArchive(ctx, output),
      );
      return;
    case 'local':
    case 'tar':
      await task(ctx.emit, `exporting files to ${output.dest}`, () =>
        exportPlatformFiles(ctx, output),
      );
      return;
    case 'image':
    case 'registry': {
      keepPlatformImages(ctx.store, ctx.committed);
      let pushed: CommittedIndex | undefined;
      for (const name of output.names) {
        const normalized = normalizeImageName(name);
        ctx.store.images.set({
          name: normalized,
          manifest: ctx.committed.descriptor.digest,
          config: ctx.committed.descriptor.digest,
          snapshot: null,
          createdAt: Date.now(),
        });
        if (output.push) {
          const client = await ctx.registry();
          pushed = await task(ctx.emit, `pushing ${name}`, async () => {
            const index = pushed ?? (await indexFor(ctx, output));
            await pushIndex(ctx.store, client, index, normalized, { signal: ctx.signal });
            return index;
          });
        }
      }
      return pushed;
    }
  }
}

/** The index with each platform's image as this output wants it (media types, compression). */
async function indexFor(ctx: IndexOutputContext, output: OutputSpec): Promise<CommittedIndex> {
  const images: PlatformImage[] = [];
  for (const { platform, image } of ctx.committed.images)
    images.push({ platform, image: await imageFor({ ...ctx, committed: image }, output) });
  return commitIndex(ctx.store, images);
}

async function exportIndexArchive(ctx: IndexOutputContext, output: OutputSpec): Promise<void> {
  const index = await indexFor(ctx, output);
  // An archive holds the layer bytes: lazy layers of an imported cache are fetched now.
  await fetchLazyBlobs(
    ctx.store,
    index.images.flatMap(({ image }) => image.layers.map((l) => l.digest)),
    ctx.signal,
  );
  const dest = output.dest === '-' ? standardOutput(ctx) : output.dest!;
  await exportIndexLayout({ ...index, blobs: ctx.store.blobs }, dest, {
    names: output.names,
    ...(ctx.options.sourceDateEpoch !== undefined
      ? { sourceDateEpoch: ctx.options.sourceDateEpoch }
      : {}),
    ...(output.type === 'oci' && output.attrs.tar === 'false' ? { directory: true } : {}),
    ...(output.type === 'docker' ? { docker: { loadPlatform: hostPlatform() } } : {}),
  });
}

/** `local`: DEST/linux_amd64/…; `tar`: one tar holding those directories. */
async function exportPlatformFiles(ctx: IndexOutputContext, output: OutputSpec): Promise<void> {
  // Restores layers whose directories are missing (lazy layers of an imported cache).
  const layersOf = async ({ image }: PlatformImage) =>
    image.snapshot === null
      ? []
      : (await snapshotChain(ctx.store, image.snapshot)).map((s) => s.dir).reverse();
  if (output.type === 'local') {
    for (const entry of ctx.committed.images)
      await exportLayersToDirectory(
        await layersOf(entry),
        path.join(output.dest!, platformDirName(entry.platform)),
      );
    return;
  }
  const temp = await mkdtemp(path.join(await ctx.store.tempDir('export'), 'tbuild-tar-'));
  try {
    for (const entry of ctx.committed.images)
      await exportLayersToDirectory(
        await layersOf(entry),
        path.join(temp, platformDirName(entry.platform)),
      );
    await exportMergedToTar(temp, output.dest === '-' ? standardOutput(ctx) : output.dest!, {
      ...(ctx.options.sourceDateEpoch !== undefined
        ? { sourceDateEpoch: ctx.options.sourceDateEpoch }
        : {}),
      ...(output.attrs['rewrite-timestamp'] === 'true' ? { rewriteTimestamps: true } : {}),
    });
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}
