/**
 * The state lowering carries: build-wide (options, stage table, resolved stages) and
 * per stage (filesystem State, image config, ARGs in scope, SHELL, step counter).
 */
import { image as imageSource, local } from '../llb/index.ts';
import type { State, VertexMetadata } from '../llb/index.ts';
import { withLocation } from '../shared/errors.ts';
import type { SourceLocation } from '../shared/errors.ts';
import type { ImageConfig } from '../shared/oci.ts';
import { formatPlatform } from '../shared/platform.ts';
import type { Platform } from '../shared/platform.ts';
import type { ExpansionBudget } from '../parser/limits.ts';
import { processWord } from '../parser/shell-lexer.ts';
import { createLookup } from './args.ts';
import { BaseImageNotFoundError } from './errors.ts';
import { createExpander, expandForDisplay } from './expand.ts';
import type { Expander } from './expand.ts';
import type { CommandBase } from './instructions/types.ts';
import { stageDisplayName } from './stage-table.ts';
import type { IgnoreMatcher } from '../shared/dockerignore.ts';
import type { Linter } from './lint/linter.ts';
import type { StageEntry, StageTable } from './stage-table.ts';
import type { BaseImageResolver, BuildOptions, FrontendWarning, ResolvedImage } from './types.ts';

/** What a finished stage hands to stages that use it. */
export interface StageResult {
  fs: State;
  image: ImageConfig;
  platform: Platform;
  /** The build state's environment at the end of the stage (see StageContext.env). */
  env: readonly string[];
  /** ARGs declared in the stage and the stages it is built on, for RUN's history. */
  args: ReadonlyMap<string, string | undefined>;
  /** Whether a WORKDIR ran in the stage (or its parent stages). */
  workdirSet: boolean;
}

export interface BuildContext {
  readonly opts: BuildOptions;
  readonly images: BaseImageResolver;
  readonly table: StageTable;
  readonly escapeToken: string;
  /** What is left of the Dockerfile's total expansion (parser/limits.ts). */
  readonly expansion: ExpansionBudget;
  /** Global ARGs (with build-arg overrides) and the predefined platform ARGs. */
  readonly globalArgs: ReadonlyMap<string, string | undefined>;
  readonly warnings: FrontendWarning[];
  /** Build checks: reports to `warnings` unless `# check=` skips the rule. */
  readonly lint: Linter;
  /** .dockerignore of the main context, for CopyIgnoredFile. */
  readonly ignore: IgnoreMatcher;
  /** Build args some ARG declared (the rest are reported as unused). */
  readonly usedBuildArgs: Set<string>;
  /**
   * Progress names stages (`[stage-0 1/2]`): BuildKit leaves the name out only when the
   * build has one source, a single stage with no RUN --mount and no COPY --from of an image.
   */
  readonly showStageNames: boolean;
  /** History `created` time: SOURCE_DATE_EPOCH or now. */
  readonly created: string;
  /**
   * Lower a stage once, however many stages use it. `requester` is the stage that needs
   * it (undefined for the target), so that cycles fail instead of waiting forever.
   */
  lowerStage(
    stage: StageEntry,
    requester: StageEntry | undefined,
    from: SourceLocation,
  ): Promise<StageResult>;
  /** The shared local context source (one vertex for the whole build). */
  context(): State;
  /** Resolve a base image (memoised); throws BaseImageNotFoundError when unknown. */
  resolveImage(ref: string, platform: Platform, location: SourceLocation): Promise<ResolvedImage>;
}

export interface StageContext {
  readonly build: BuildContext;
  readonly stage: StageEntry;
  fs: State;
  image: ImageConfig;
  platform: Platform;
  shell: string[];
  /**
   * The environment RUN sees and instructions expand with: BuildKit's build state, not the
   * image config. ENV sets a variable in both; an ARG with a value (default, build arg or
   * global) sets it here only, over an earlier ENV of the same name.
   */
  env: string[];
  /** ARGs declared in this stage (and the stages it is built on); undefined = no value. */
  args: Map<string, string | undefined>;
  /** CMD was set in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
  /** A WORKDIR of this Dockerfile ran in this stage (WorkdirRelativePath checks the first). */
  workdirSet: boolean;
  /** Where CMD, ENTRYPOINT and HEALTHCHECK last appeared (MultipleInstructionsDisallowed). */
  lastOnce: Partial<Record<'cmd' | 'entrypoint' | 'healthcheck', SourceLocation>>;
  step: number;
  readonly totalSteps: number;
  /** Dispatching the base image's ONBUILD triggers (their steps are titled `ONBUILD …`). */
  inTrigger: boolean;
}

/** The variable lookup for a stage right now: its build state's environment. */
export function stageLookup(ctx: StageContext): (name: string) => string | undefined {
  return createLookup(ctx.env, new Map());
}

/** An expander with the stage's current environment. */
export function stageExpander(ctx: StageContext, cmd: CommandBase): Expander {
  return createExpander(stageLookup(ctx), ctx.build.escapeToken, cmd.location, ctx.build.expansion);
}

/** `[build 2/5] ` — with the stage name unless the build has a single source (see showStageNames). */
export function nextStepPrefix(ctx: StageContext): string {
  ctx.step += 1;
  const width = String(ctx.totalSteps).length;
  const name = ctx.build.showStageNames ? `${stageDisplayName(ctx.stage)} ` : '';
  const trigger = ctx.inTrigger ? 'ONBUILD ' : '';
  // BuildKit's `[linux/arm64 build 2/4]`: the stage's own platform, so a stage built once
  // for every target (FROM --platform=$BUILDPLATFORM) has one title in every graph.
  const platform = ctx.build.opts.multiPlatform ? `${formatPlatform(ctx.platform)} ` : '';
  return `[${platform}${name}${String(ctx.step).padStart(width)}/${ctx.totalSteps}] ${trigger}`;
}

/** Vertex metadata for a step of this stage. */
export function stepMetadata(
  ctx: StageContext,
  location: SourceLocation,
  text: string,
): VertexMetadata {
  const meta: VertexMetadata = {
    description: nextStepPrefix(ctx) + text,
    location,
    stage: stageDisplayName(ctx.stage),
  };
  if (isCacheIgnored(ctx.build.opts, ctx.stage)) meta.ignoreCache = true;
  return meta;
}

/** --no-cache, or --no-cache-filter naming this stage (by name or index). */
export function isCacheIgnored(opts: BuildOptions, stage: StageEntry): boolean {
  if (opts.noCache) return true;
  const filter = opts.noCacheFilter ?? [];
  return filter.some((f) => f.toLowerCase() === stage.name || f === String(stage.index));
}

/** Create the resolver memo shared by one build. */
export function createImageResolver(
  images: BaseImageResolver,
): (ref: string, platform: Platform, location: SourceLocation) => Promise<ResolvedImage> {
  const memo = new Map<string, Promise<ResolvedImage>>();
  return (ref, platform, location) => {
    const key = `${ref}|${platform.os}/${platform.architecture}/${platform.variant ?? ''}`;
    let found = memo.get(key);
    if (!found) {
      found = images.resolve(ref, platform).then(
        (resolved) => {
          if (!resolved) {
            throw new BaseImageNotFoundError(`base image "${ref}" could not be found`, {
              hint: 'Check the image name and tag, log in if it is private, or build the stage it names.',
              location,
            });
          }
          return resolved;
        },
        (error: unknown) => {
          throw withLocation(error, location);
        },
      );
      memo.set(key, found);
    }
    return found;
  };
}

/** The LLB state of a resolved image. */
export function imageState(
  build: BuildContext,
  resolved: ResolvedImage,
  platform: Platform,
  metadata?: VertexMetadata,
): State {
  const options: Parameters<typeof imageSource>[2] = {};
  if (build.opts.pull) options.pull = true;
  if (metadata) options.metadata = metadata;
  return imageSource(resolved.ref, platform, options);
}

/** The one local context vertex of a build. */
export function createContextState(opts: BuildOptions): () => State {
  let state: State | undefined;
  return () =>
    (state ??= local(opts.contextName ?? 'context', {
      exclude: opts.dockerignore,
      metadata: { description: '[internal] load build context' },
    }));
}

/** How progress names a step: the instruction as written, variables shown expanded. */
export function describeCommand(ctx: StageContext, cmd: CommandBase): string {
  const text = cmd.original.replace(/^\s*\S+/, (word) => word.toUpperCase()).split('\n')[0]!;
  return shortTitle(
    expandForDisplay(text, stageLookup(ctx), ctx.build.escapeToken, ctx.build.expansion),
  );
}

/** Longest step title shown in progress and errors; the rest of the text is summarised. */
const MAX_TITLE_CHARS = 4000;

/** A step title cut to MAX_TITLE_CHARS (an instruction can span 150,000 lines). */
function shortTitle(title: string): string {
  if (title.length <= MAX_TITLE_CHARS) return title;
  return `${title.slice(0, MAX_TITLE_CHARS)}… (${title.length - MAX_TITLE_CHARS} more characters)`;
}

/**
 * How progress names a RUN step, as BuildKit's processCmdEnv: the source text with the
 * variables it knows expanded, quotes and unknown variables left as written, values of
 * secrets exposed as env shown as `****`; a RUN that is one heredoc adds its first line.
 */
export function describeRun(
  ctx: StageContext,
  cmd: CommandBase,
  options: { secretEnvs: readonly string[]; heredoc?: string },
): string {
  let text = cmd.original.trim().split('\n')[0]!;
  if (options.heredoc !== undefined) text += ` (${summarizeHeredoc(options.heredoc)})`;
  const lookup = stageLookup(ctx);
  const masked = (name: string) => (options.secretEnvs.includes(name) ? '****' : lookup(name));
  let shown: string;
  try {
    const escapeToken = ctx.build.escapeToken;
    const budget = ctx.build.expansion;
    shown = processWord(text, masked, {
      escapeToken,
      keepQuotes: true,
      skipUnsetEnv: true,
      budget,
    }).result;
  } catch (error) {
    void error; // a title is best effort: the text as written
    shown = text;
  }
  return shortTitle(shown.replace(/^\S+/, (word) => word.toUpperCase()));
}

/** BuildKit's heredoc summary: the first line, with `...` when there are more. */
function summarizeHeredoc(content: string): string {
  const lines = content.trim().replace(/\r\n/g, '\n').split('\n');
  return lines.length > 1 ? `${lines[0]}...` : lines[0]!;
}
