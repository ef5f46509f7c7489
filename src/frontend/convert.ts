/**
 * Dockerfile → LLB: parse, type the instructions, build the stage table, then lower the
 * target stage. Stages are lowered on demand (FROM <stage>, COPY --from, RUN
 * --mount=from=), so stages the target does not need never enter the graph.
 */
import { marshal } from '../llb/index.ts';
import { createExpansionBudget, createIgnoreMatcher, parseDockerfile } from '../parser/index.ts';
import type { ExpansionBudget, ParseResult } from '../parser/index.ts';
import type { SourceLocation } from '../shared/errors.ts';
import { createLookup, predefinedArgs, PROXY_ARGS } from './args.ts';
import { createContextState, createImageResolver } from './build-context.ts';
import type { BuildContext, StageResult } from './build-context.ts';
import { InvalidStageReferenceError } from './errors.ts';
import { createExpander } from './expand.ts';
import { parseCommand } from './instructions/parse.ts';
import { resolveLintConfig } from './lint/config.ts';
import { createLinter } from './lint/linter.ts';
import type { Linter } from './lint/linter.ts';
import { MESSAGES } from './lint/rules.ts';
import {
  lintCommand,
  lintCommandCasing,
  lintDefaultBaseNames,
  lintFromVariables,
  lintStageNames,
} from './lint/stage-checks.ts';
import { lowerStage, stageBase } from './lower-stage.ts';
import { buildStageTable, selectTarget, showStageNames } from './stage-table.ts';
import { checkSyntaxDirective, syntaxDirectiveLine } from './syntax-directive.ts';
import type { StageEntry, StageTable } from './stage-table.ts';
import type { BaseImageResolver, BuildOptions, FrontendWarning, LowerResult } from './types.ts';

/** Build args that are never reported as unused. */
const BUILTIN_ARGS = new Set([...PROXY_ARGS, 'SOURCE_DATE_EPOCH']);

/**
 * Lower a Dockerfile to an LLB definition plus the target's image config.
 * `images` supplies base image configs; an unknown image is an error.
 */
export function dockerfileToLLB(
  text: string,
  opts: BuildOptions,
  images: BaseImageResolver,
): Promise<LowerResult> {
  return lowerDockerfile(text, opts, images, []);
}

/**
 * The lowering behind dockerfileToLLB. Warnings go to `warnings` as they are found, so a
 * caller still has them when lowering fails (`--check` reports both).
 */
export async function lowerDockerfile(
  text: string,
  opts: BuildOptions,
  images: BaseImageResolver,
  warnings: FrontendWarning[],
): Promise<LowerResult> {
  const parsed = parseDockerfile(text, opts.file === undefined ? {} : { file: opts.file });
  const lint = createLinter(
    resolveLintConfig(parsed.directives['check'], opts.buildArgs),
    warnings,
  );
  const table = typeStages(parsed, opts.file, lint);
  warnAboutSyntaxDirective(text, parsed.directives.syntax, opts.file, warnings);
  const usedBuildArgs = new Set<string>();
  const escapeToken = parsed.escapeToken;
  lintDefaultBaseNames(table, predefinedArgs(opts.platform, opts.buildPlatform), escapeToken, lint);
  const expansion = createExpansionBudget();
  const globalArgs = computeGlobalArgs(table, opts, escapeToken, usedBuildArgs, expansion);
  for (const stage of table.stages) {
    lintFromVariables(stage, globalArgs, table.globalArgs, escapeToken, lint);
  }
  const target = selectTarget(table, opts.target, opts.file);
  const epoch = opts.sourceDateEpoch ?? parseEpoch(opts.buildArgs['SOURCE_DATE_EPOCH']);
  const results = new Map<number, Promise<StageResult>>();
  const waitsFor = new Map<number, Set<number>>();
  const resolveImage = createImageResolver(images);
  const build: BuildContext = {
    opts,
    images,
    table,
    escapeToken,
    expansion,
    globalArgs,
    warnings,
    lint,
    ignore: createIgnoreMatcher(opts.dockerignore),
    usedBuildArgs,
    showStageNames: showStageNames(table),
    // Go's RFC 3339 form: no fractional seconds when there are none.
    created: new Date(epoch === undefined ? Date.now() : epoch * 1000)
      .toISOString()
      .replace('.000Z', 'Z'),
    context: createContextState(opts),
    resolveImage,
    lowerStage(stage, requester, location) {
      if (requester) addDependency(waitsFor, requester, stage, location);
      let result = results.get(stage.index);
      if (!result) {
        result = lowerStage(build, stage);
        results.set(stage.index, result);
      }
      return result;
    },
  };
  const final = await build.lowerStage(target, undefined, target.from.location);
  if (opts.allStages) {
    for (const stage of table.stages) await build.lowerStage(stage, undefined, stage.from.location);
  }
  // `# check=error=true`: the warnings fail the build once every stage was checked.
  const violation = lint.violation();
  if (violation) throw violation;
  const image = structuredClone(final.image);
  image.created = build.created;
  if (opts.labels && Object.keys(opts.labels).length > 0) {
    image.config.Labels = { ...image.config.Labels, ...opts.labels };
  }
  warnUnusedBuildArgs(opts, usedBuildArgs, warnings);
  const definition = marshal(final.fs, opts.noCache ? { ignoreCache: true } : {});
  const stages = table.stages.map((stage) => ({
    index: stage.index,
    ...(stage.name ? { name: stage.name } : {}),
    ...stageBase(build, stage),
    used: results.has(stage.index),
  }));
  return { definition, image, stages, target: target.index, warnings };
}

/**
 * Typed commands grouped into stages, with the checks BuildKit makes while it reads them.
 * Commands are typed one by one, so what was checked before a bad instruction is still
 * reported.
 */
function typeStages(parsed: ParseResult, file: string | undefined, lint: Linter): StageTable {
  for (const w of parsed.warnings) {
    if (w.rule === 'NoEmptyContinuation' && w.range) {
      const location = file === undefined ? { range: w.range } : { file, range: w.range };
      lint.run('NoEmptyContinuation', location, MESSAGES.NoEmptyContinuation());
    }
  }
  const commands = parsed.instructions.map((node) => {
    const cmd = parseCommand(node, file);
    lintCommand(cmd, lint);
    return cmd;
  });
  const table = buildStageTable(commands, file);
  lintStageNames(table, lint);
  lintCommandCasing(table, lint);
  return table;
}

/** Global ARGs (before the first FROM), with build-arg overrides, plus the platform ARGs. */
function computeGlobalArgs(
  table: StageTable,
  opts: BuildOptions,
  escapeToken: string,
  used: Set<string>,
  budget: ExpansionBudget,
): Map<string, string | undefined> {
  const globals = new Map<string, string | undefined>(
    predefinedArgs(opts.platform, opts.buildPlatform),
  );
  for (const cmd of table.globalArgs) {
    const x = createExpander(createLookup([], globals), escapeToken, cmd.location, budget);
    for (const arg of cmd.args) {
      const key = x.word(arg.key);
      let value = arg.value === undefined ? globals.get(key) : x.word(arg.value);
      if (Object.hasOwn(opts.buildArgs, key)) {
        value = opts.buildArgs[key];
        used.add(key);
      }
      globals.set(key, value);
    }
  }
  return globals;
}

/** Record that `from` waits for `to`, refusing a cycle (a stage that ends up needing itself). */
function addDependency(
  waitsFor: Map<number, Set<number>>,
  from: StageEntry,
  to: StageEntry,
  location: SourceLocation,
): void {
  const reaches = (start: number, goal: number, seen = new Set<number>()): boolean => {
    if (start === goal) return true;
    if (seen.has(start)) return false;
    seen.add(start);
    return [...(waitsFor.get(start) ?? [])].some((next) => reaches(next, goal, seen));
  };
  if (reaches(to.index, from.index)) {
    throw new InvalidStageReferenceError(
      `circular dependency between stages ${from.name ?? from.index} and ${to.name ?? to.index}`,
      { hint: 'A stage cannot depend on itself, directly or through other stages.', location },
    );
  }
  if (!waitsFor.has(from.index)) waitsFor.set(from.index, new Set());
  waitsFor.get(from.index)!.add(to.index);
}

function warnUnusedBuildArgs(
  opts: BuildOptions,
  used: Set<string>,
  warnings: FrontendWarning[],
): void {
  const unused = Object.keys(opts.buildArgs)
    .filter((key) => !used.has(key) && !BUILTIN_ARGS.has(key) && !key.startsWith('BUILDKIT_'))
    .sort();
  if (unused.length > 0) {
    warnings.push({
      message: `One or more build-args [${unused.join(' ')}] were not consumed`,
      rule: 'UnusedBuildArg',
    });
  }
}

/** `# syntax=` asking for a frontend tbuild does not run: say so (tbuild never runs one). */
function warnAboutSyntaxDirective(
  text: string,
  syntax: string | undefined,
  file: string | undefined,
  warnings: FrontendWarning[],
): void {
  if (syntax === undefined) return;
  const line = syntaxDirectiveLine(text);
  const range = line === undefined ? undefined : { start: line, end: line };
  const warning = checkSyntaxDirective(syntax, { file, ...(range ? { range } : {}) });
  if (warning) warnings.push(warning);
}

function parseEpoch(text: string | undefined): number | undefined {
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}
