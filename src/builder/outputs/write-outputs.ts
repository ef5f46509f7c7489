/**
 * Where a built image goes: the local store (with -t), archives, the filesystem, a
 * registry. Each output is one exporter call; failures name the output.
 */
import type { Writable } from 'node:stream';
import type { Store } from '../../cache/types.ts';
import type { CommittedImage } from '../../engine/commit-image.ts';
import { settleLazyLayers } from '../../engine/lazy-layers.ts';
import { normalizeImageName } from '../../registry/reference.ts';
import type { RegistryClient } from '../../registry/types.ts';
import type { ProgressSink } from '../../shared/progress.ts';
import type { ResolvedBuildOptions } from '../options.ts';
import { task } from '../task.ts';
import type { OutputSpec } from '../types.ts';

export interface OutputContext {
  store: Store;
  options: ResolvedBuildOptions;
  committed: CommittedImage;
  emit: ProgressSink;
  registry: () => Promise<RegistryClient>;
  signal: AbortSignal;
  /** Where `dest=-` goes: the caller's stream. */
  stdout: Writable | undefined;
}

/**
 * The outputs after the image is in the store under its names (see name-image.ts).
 * Returns the image pushed first, if any: its manifest (with the push's compression and
 * media types) is the one the build's metadata names, as buildx's does.
 */
export async function writeOutputs(ctx: OutputContext): Promise<CommittedImage | undefined> {
  const { options } = ctx;
  let pushed: CommittedImage | undefined;
  for (const output of options.outputs) pushed ??= await writeOutput(ctx, output);
  if (options.load) {
    const load: OutputSpec = {
      type: 'docker',
      dest: 'docker-load',
      names: [...options.tags],
      push: false,
      attrs: {},
    };
    await task(ctx.emit, 'loading image into docker', async () =>
      (await archives()).exportArchive(ctx, load),
    );
  }
  // The store keeps the image it names: the blobs of its lazy layers (imported from a
  // cache, ADR 11) are fetched, not unpacked, so a later process can unpack them. A
  // pushed image's were mounted or sent from the cache: the store keeps them lazy.
  if (!pushed) await settleLazyLayers(ctx.store, ctx.committed.snapshot, ctx.signal);
  return pushed;
}

/** Archive writers and push load on demand: a build into the store alone needs neither. */
const archives = () => import('./archives.ts');

async function writeOutput(
  ctx: OutputContext,
  output: OutputSpec,
): Promise<CommittedImage | undefined> {
  switch (output.type) {
    case 'docker':
    case 'oci':
      await task(ctx.emit, `exporting ${output.type} archive to ${output.dest}`, () =>
        archives().then((a) => a.exportArchive(ctx, output)),
      );
      return;
    case 'local':
    case 'tar':
      await task(ctx.emit, `exporting files to ${output.dest}`, () =>
        archives().then((a) => a.exportFilesystem(ctx, output)),
      );
      return;
    case 'image':
    case 'registry': {
      let pushed: CommittedImage | undefined;
      for (const name of output.names) {
        const normalized = normalizeImageName(name);
        ctx.store.images.set({
          name: normalized,
          manifest: ctx.committed.manifest.descriptor.digest,
          config: ctx.committed.config.descriptor.digest,
          snapshot: ctx.committed.snapshot,
          createdAt: Date.now(),
        });
        if (output.push) {
          const client = await ctx.registry();
          const [{ pushImage }, { imageFor }] = await Promise.all([
            import('../../engine/push.ts'),
            archives(),
          ]);
          // Made once for all of this output's names: its attributes are the same.
          pushed = await task(ctx.emit, `pushing ${name}`, async () => {
            const image = pushed ?? (await imageFor(ctx, output));
            await pushImage(ctx.store, client, image, normalized, { signal: ctx.signal });
            return image;
          });
        }
      }
      return pushed;
    }
  }
}
