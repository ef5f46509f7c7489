/**
 * Checks BuildKit makes on every stage before any is built, so unreachable stages are
 * checked too: how FROM is written (casing, stage names), how commands are cased, and
 * what the FROM lines' variables expand to.
 */
import type { SourceLocation } from '../../shared/errors.ts';
import { parsePlatform } from '../../shared/platform.ts';
import { createLookup } from '../args.ts';
import { createExpander } from '../expand.ts';
import type { ArgCommand, Command } from '../instructions/types.ts';
import type { StageEntry, StageTable } from '../stage-table.ts';
import { isValidImageReference } from './image-reference.ts';
import type { Linter } from './linter.ts';
import { MESSAGES } from './rules.ts';
import { suggestName } from './suggest.ts';

const RESERVED_STAGE_NAMES = new Set(['context', 'scratch']);

/** Checks on one command as it is read: MAINTAINER, and how `FROM … AS name` is written. */
export function lintCommand(cmd: Command, lint: Linter): void {
  if (cmd.kind === 'maintainer') {
    lint.run('MaintainerDeprecated', cmd.location, MESSAGES.MaintainerDeprecated());
  }
  if (cmd.kind !== 'from' || cmd.stageName === undefined || cmd.asKeyword === undefined) return;
  if (cmd.stageName !== cmd.stageName.toLowerCase()) {
    lint.run('StageNameCasing', cmd.location, MESSAGES.StageNameCasing(cmd.stageName));
  }
  // A FROM of mixed case is ConsistentInstructionCasing's business, not this rule's.
  const from = cmd.written;
  const as = cmd.asKeyword;
  const mismatch =
    from === from.toLowerCase()
      ? as !== as.toLowerCase()
      : from === from.toUpperCase() && as !== as.toUpperCase();
  if (mismatch) lint.run('FromAsCasing', cmd.location, MESSAGES.FromAsCasing(from, as));
}

/** Reserved and duplicate stage names. */
export function lintStageNames(table: StageTable, lint: Linter): void {
  const seen = new Set<string>();
  for (const stage of table.stages) {
    if (stage.name === undefined) continue;
    const location = stage.from.location;
    if (RESERVED_STAGE_NAMES.has(stage.name)) {
      lint.run('ReservedStageName', location, MESSAGES.ReservedStageName(stage.name));
    }
    if (seen.has(stage.name)) {
      lint.run('DuplicateStageName', location, MESSAGES.DuplicateStageName(stage.name));
    }
    seen.add(stage.name);
  }
}

/** Command names should all be upper case or all lower case, like the majority (global ARGs not counted). */
export function lintCommandCasing(table: StageTable, lint: Linter): void {
  const commands = table.stages.flatMap((stage) => [stage.from, ...stage.commands]);
  let lower = 0;
  let upper = 0;
  for (const { written } of commands) {
    if (written === written.toLowerCase()) lower++;
    else if (written === written.toUpperCase()) upper++;
  }
  const majority = lower > upper ? 'lowercase' : 'uppercase';
  for (const cmd of commands) {
    const fits =
      majority === 'lowercase'
        ? cmd.written === cmd.written.toLowerCase()
        : cmd.written === cmd.written.toUpperCase();
    if (!fits) {
      lint.run(
        'ConsistentInstructionCasing',
        cmd.location,
        MESSAGES.ConsistentInstructionCasing(cmd.written, majority),
      );
    }
  }
}

/**
 * InvalidDefaultArgInFrom: with no --build-arg at all, the global ARGs' defaults must still
 * give every FROM a valid image name. Expansion errors are left to the build to report.
 */
export function lintDefaultBaseNames(
  table: StageTable,
  predefined: ReadonlyMap<string, string | undefined>,
  escapeToken: string,
  lint: Linter,
): void {
  const defaults = new Map(predefined);
  try {
    for (const cmd of table.globalArgs) {
      const x = createExpander(createLookup([], defaults), escapeToken, cmd.location);
      for (const arg of cmd.args) {
        if (arg.value !== undefined) defaults.set(arg.key, x.word(arg.value));
      }
    }
    for (const stage of table.stages) {
      const x = createExpander(createLookup([], defaults), escapeToken, stage.from.location);
      if (!isValidImageReference(x.word(stage.from.image))) {
        lint.run(
          'InvalidDefaultArgInFrom',
          stage.from.location,
          MESSAGES.InvalidDefaultArgInFrom(stage.from.image),
        );
      }
    }
  } catch (error) {
    void error; // The same expansion fails the build later, with its location.
  }
}

/**
 * The FROM line's variables: undeclared ARGs (UndefinedArgInFrom), a --platform that is
 * only $TARGETPLATFORM (RedundantTargetPlatform) or a constant (FromPlatformFlagConstDisallowed).
 */
export function lintFromVariables(
  stage: StageEntry,
  globals: ReadonlyMap<string, string | undefined>,
  globalArgs: readonly ArgCommand[],
  escapeToken: string,
  lint: Linter,
): void {
  const from = stage.from;
  // Declared global ARGs count even without a value; so do the predefined platform ARGs.
  const known = new Set([
    ...globalArgs.flatMap((cmd) => cmd.args.map((a) => a.key)),
    ...[...globals].filter(([, v]) => v !== undefined).map(([k]) => k),
  ]);
  const expand = (word: string) => {
    const x = createExpander(createLookup([], globals), escapeToken, from.location);
    try {
      return { result: x.word(word), used: x.used, unset: x.unset };
    } catch (error) {
      void error; // Reported by the build, with its location.
      return undefined;
    }
  };
  const base = expand(from.image);
  if (base) reportUndeclared(base.unset, known, from.location, lint);
  if (from.platform === undefined) return;
  const platform = expand(from.platform);
  if (!platform) return;
  reportUndeclared(platform.unset, known, from.location, lint);
  if (
    platform.used.size === 1 &&
    platform.unset.size === 0 &&
    platform.used.has('TARGETPLATFORM')
  ) {
    if (platform.result === globals.get('TARGETPLATFORM')) {
      lint.run(
        'RedundantTargetPlatform',
        from.location,
        MESSAGES.RedundantTargetPlatform(from.platform),
      );
    }
  }
  if (platform.used.size === 0 && platform.unset.size === 0) {
    lintConstPlatform(stage, platform.result, lint);
  }
}

function reportUndeclared(
  unset: ReadonlySet<string>,
  known: ReadonlySet<string>,
  location: SourceLocation,
  lint: Linter,
): void {
  for (const name of unset) {
    if (known.has(name)) continue;
    const suggestion = suggestName(name, known);
    lint.run('UndefinedArgInFrom', location, MESSAGES.UndefinedArgInFrom(name, suggestion));
  }
}

/** A constant --platform is fine when the stage's name says which platform it is for. */
function lintConstPlatform(stage: StageEntry, text: string, lint: Linter): void {
  let platform;
  try {
    platform = parsePlatform(text);
  } catch (error) {
    void error; // An invalid platform fails the build with its own error.
    return;
  }
  const name = stage.name ?? '';
  if (name.includes(platform.os) || name.includes(platform.architecture)) return;
  lint.run(
    'FromPlatformFlagConstDisallowed',
    stage.from.location,
    MESSAGES.FromPlatformFlagConstDisallowed(text),
  );
}
