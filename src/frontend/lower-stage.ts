/**
 * One stage: FROM (scratch, an earlier stage or an image), the base image's ONBUILD
 * triggers, then each instruction in order.
 */
import { scratch } from '../llb/index.ts';
import { parseDockerfile } from '../parser/index.ts';
import { isTbuildError } from '../shared/errors.ts';
import { formatPlatform, parsePlatform } from '../shared/platform.ts';
import type { Platform } from '../shared/platform.ts';
import type { SourceLocation } from '../shared/errors.ts';
import type { ImageConfig } from '../shared/oci.ts';
import { createLookup } from './args.ts';
import { imageState, stepMetadata } from './build-context.ts';
import type { BuildContext, StageContext, StageResult } from './build-context.ts';
import { dispatchConfig } from './dispatch-config.ts';
import { dispatchCopy, dispatchWorkdir } from './dispatch-copy.ts';
import { dispatchRun } from './dispatch-run.ts';
import { InvalidInstructionError } from './errors.ts';
import { createExpander } from './expand.ts';
import { createScratchConfig, inheritConfig, setEnv } from './image-config.ts';
import { parseCommand } from './instructions/parse.ts';
import type { Command, FromCommand } from './instructions/types.ts';
import { findNamedContext, namedLocalBase } from './named-contexts.ts';
import { MESSAGES } from './lint/rules.ts';
import { findStage } from './stage-table.ts';
import type { StageEntry } from './stage-table.ts';

/** The FROM argument and platform after expansion with the global ARGs. */
export function stageBase(
  build: BuildContext,
  stage: StageEntry,
): { base: string; platform: Platform } {
  const from = stage.from;
  const lookup = createLookup([], build.globalArgs);
  const x = createExpander(lookup, build.escapeToken, from.location, build.expansion);
  const base = x.word(from.image);
  if (base === '') {
    throw new InvalidInstructionError(`FROM: base name (${from.image}) should not be blank`, {
      hint: 'Give FROM an image, or set the ARG it uses (declare it before the first FROM).',
      location: from.location,
    });
  }
  if (from.platform === undefined) return { base, platform: build.opts.platform };
  const text = x.word(from.platform);
  try {
    return { base, platform: parsePlatform(text) };
  } catch (error) {
    if (!isTbuildError(error)) throw error;
    throw new InvalidInstructionError(`FROM --platform=${text}: ${error.message}`, {
      hint: error.hint ?? 'Use os/arch[/variant].',
      location: from.location,
      cause: error,
    });
  }
}

/** Lower a stage to its final filesystem and image config. */
export async function lowerStage(build: BuildContext, stage: StageEntry): Promise<StageResult> {
  const { base, platform: fromPlatform } = stageBase(build, stage);
  const named = findNamedContext(build.opts, base);
  const baseStage = named ? undefined : findStage(build.table, base, stage.index);
  const ctx: StageContext = {
    build,
    stage,
    fs: scratch(),
    image: createScratchConfig(fromPlatform),
    platform: fromPlatform,
    shell: ['/bin/sh', '-c'],
    env: [],
    args: new Map(),
    cmdSet: false,
    workdirSet: false,
    lastOnce: {},
    step: 0,
    totalSteps: 1,
    inTrigger: false,
  };
  if (named?.type === 'local') {
    Object.assign(ctx, { totalSteps: countSteps(stage.commands, [], true) });
    const metadata = stepMetadata(ctx, stage.from.location, `FROM ${base}`);
    ctx.fs = namedLocalBase(base, named.source, fromPlatform, metadata);
    return runCommands(ctx, [], stage.commands);
  }
  if (base.toLowerCase() === 'scratch' && !named) {
    // Scratch is no step: BuildKit counts FROM only for an image.
  } else if (baseStage && baseStage.index < stage.index) {
    const parent = await build.lowerStage(baseStage, stage, stage.from.location);
    ctx.fs = parent.fs;
    ctx.image = structuredClone(parent.image);
    // BuildKit carries the parent's build state over, its ARG values included.
    ctx.env = [...parent.env];
    ctx.args = new Map(parent.args);
    ctx.workdirSet = parent.workdirSet;
    if (stage.from.platform === undefined) ctx.platform = parent.platform;
  } else {
    const ref = named?.type === 'image' ? named.ref : base;
    const resolved = await build.resolveImage(ref, fromPlatform, stage.from.location);
    warnOnPlatformMismatch(build, resolved.config, fromPlatform, base, stage.from.location);
    ctx.image = inheritConfig(resolved.config);
    ctx.image.architecture = fromPlatform.architecture;
    ctx.image.os = fromPlatform.os;
    if (fromPlatform.variant) ctx.image.variant = fromPlatform.variant;
    else delete ctx.image.variant;
    const triggers = onbuildCommands(ctx, stage.from);
    Object.assign(ctx, { totalSteps: countSteps(stage.commands, triggers, true) });
    ctx.fs = imageState(
      build,
      resolved,
      fromPlatform,
      stepMetadata(ctx, stage.from.location, `FROM ${resolved.ref}`),
    );
    return runCommands(ctx, triggers, stage.commands);
  }
  const triggers = onbuildCommands(ctx, stage.from);
  Object.assign(ctx, { totalSteps: countSteps(stage.commands, triggers, false) });
  return runCommands(ctx, triggers, stage.commands);
}

/** Run the base image's ONBUILD triggers (titled `ONBUILD …`), then the stage's commands. */
async function runCommands(
  ctx: StageContext,
  triggers: readonly Command[],
  commands: readonly Command[],
): Promise<StageResult> {
  ctx.shell = ctx.image.config.Shell ? [...ctx.image.config.Shell] : ['/bin/sh', '-c'];
  // The image's ENV goes over the inherited build state: a parent stage's ARG that shadowed
  // an ENV is shadowed again, its other ARGs stay (as BuildKit initialises a stage).
  for (const entry of ctx.image.config.Env ?? []) {
    const eq = entry.indexOf('=');
    ctx.env = setEnv(
      ctx.env,
      eq < 0 ? entry : entry.slice(0, eq),
      eq < 0 ? '' : entry.slice(eq + 1),
    );
  }
  ctx.inTrigger = true;
  for (const cmd of triggers) await dispatchCommand(ctx, cmd);
  ctx.inTrigger = false;
  for (const cmd of commands) await dispatchCommand(ctx, cmd);
  return {
    fs: ctx.fs,
    image: ctx.image,
    platform: ctx.platform,
    env: ctx.env,
    args: ctx.args,
    workdirSet: ctx.workdirSet,
  };
}

/** Apply one command to the stage. */
export async function dispatchCommand(ctx: StageContext, cmd: Command): Promise<void> {
  switch (cmd.kind) {
    case 'run':
      return dispatchRun(ctx, cmd);
    case 'copy':
    case 'add':
      return dispatchCopy(ctx, cmd);
    case 'workdir':
      return dispatchWorkdir(ctx, cmd);
    case 'from':
      throw new InvalidInstructionError('FROM inside a stage', { location: cmd.location });
    default:
      return dispatchConfig(ctx, cmd);
  }
}

/**
 * BuildKit's InvalidBaseImagePlatform check: a base image made for another platform than
 * the stage's is used anyway (its RUN steps may then fail with "exec format error").
 */
function warnOnPlatformMismatch(
  build: BuildContext,
  config: ImageConfig,
  wanted: Platform,
  ref: string,
  location: SourceLocation,
): void {
  if (!config.architecture || !config.os) return;
  const got: Platform = {
    os: config.os,
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
  };
  // BuildKit compares OS and architecture only: a variant the image does not state is no mismatch.
  if (got.os === wanted.os && got.architecture === wanted.architecture) return;
  build.lint.run(
    'InvalidBaseImagePlatform',
    location,
    MESSAGES.InvalidBaseImagePlatform(ref, formatPlatform(wanted), formatPlatform(got)),
  );
}

/**
 * The `N` in `[stage i/N]`, as BuildKit counts it: FROM when the base is an image, each
 * RUN, COPY, ADD and WORKDIR of the stage, and every ONBUILD trigger (whatever it is).
 */
function countSteps(
  commands: readonly Command[],
  triggers: readonly Command[],
  fromIsStep: boolean,
): number {
  const steps = commands.filter((c) => ['run', 'copy', 'add', 'workdir'].includes(c.kind));
  return (fromIsStep ? 1 : 0) + steps.length + triggers.length;
}

/**
 * The base image's ONBUILD triggers, parsed as Dockerfile lines; they run right after
 * FROM and are not passed on to this stage's image.
 */
function onbuildCommands(ctx: StageContext, from: FromCommand): Command[] {
  const triggers = ctx.image.config.OnBuild ?? [];
  if (triggers.length === 0) return [];
  ctx.image.config.OnBuild = null;
  const commands: Command[] = [];
  for (const trigger of triggers) {
    const parsed = parseDockerfile(trigger, {});
    for (const node of parsed.instructions) {
      const name = node.name.toUpperCase();
      if (name === 'ONBUILD' || name === 'FROM' || name === 'MAINTAINER') {
        throw new InvalidInstructionError(
          `the base image's ONBUILD trigger "${trigger}" is not allowed`,
          {
            hint: `${name} cannot run as an ONBUILD trigger; fix the base image.`,
            location: from.location,
          },
        );
      }
      // Triggers point at the FROM line: that is where the user can see them come from.
      const cmd = parseCommand({ ...node, range: from.range }, from.location.file);
      commands.push(cmd);
    }
  }
  return commands;
}
