/**
 * `COPY --from=` and `RUN --mount=from=`: a stage by name or index, else an image.
 */
import type { State } from '../llb/index.ts';
import type { SourceLocation } from '../shared/errors.ts';
import { imageState } from './build-context.ts';
import type { StageContext } from './build-context.ts';
import { InvalidStageReferenceError } from './errors.ts';
import { findNamedContext, namedLocalState } from './named-contexts.ts';
import { findStage } from './stage-table.ts';

/** The filesystem `--from` names, lowering the stage it names if needed. */
export async function resolveFromRef(
  ctx: StageContext,
  ref: string,
  location: SourceLocation,
): Promise<State> {
  const { table } = ctx.build;
  const named = /^\d+$/.test(ref) ? undefined : findNamedContext(ctx.build.opts, ref);
  if (named?.type === 'local') return namedLocalState(ref, named.source);
  if (named?.type === 'image') {
    const resolved = await ctx.build.resolveImage(named.ref, ctx.platform, location);
    return imageState(ctx.build, resolved, ctx.platform, {
      description: `[context ${ref}] load image ${resolved.ref}`,
      location,
    });
  }
  if (/^\d+$/.test(ref)) {
    const index = Number(ref);
    if (index >= table.stages.length) {
      throw new InvalidStageReferenceError(`--from=${ref}: there is no stage ${index}`, {
        hint: `Stages are numbered from 0; this Dockerfile has ${table.stages.length}.`,
        location,
      });
    }
    if (index === ctx.stage.index) throw selfReference(ref, location);
    return (await ctx.build.lowerStage(table.stages[index]!, ctx.stage, location)).fs;
  }
  const stage = findStage(table, ref);
  if (stage) {
    if (stage.index === ctx.stage.index) throw selfReference(ref, location);
    return (await ctx.build.lowerStage(stage, ctx.stage, location)).fs;
  }
  const resolved = await ctx.build.resolveImage(ref, ctx.platform, location);
  return imageState(ctx.build, resolved, ctx.platform, {
    description: `[internal] load image ${resolved.ref}`,
    location,
  });
}

function selfReference(ref: string, location: SourceLocation): InvalidStageReferenceError {
  return new InvalidStageReferenceError(`--from=${ref} refers to the stage it is used in`, {
    hint: 'Copy from an earlier stage, or from an image.',
    location,
  });
}
