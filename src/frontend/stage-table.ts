/**
 * The stage table: commands grouped under their FROM, global ARGs before the first
 * FROM, and lookups by name (case-insensitive) or index.
 */
import { closestMatch } from '../shared/errors.ts';
import { didYouMean, InvalidInstructionError, UnknownTargetError } from './errors.ts';
import type { ArgCommand, Command, FromCommand } from './instructions/types.ts';

export interface StageEntry {
  index: number;
  /** Lower-cased stage name (`FROM x AS Name` → `name`). */
  name?: string;
  from: FromCommand;
  commands: Command[];
}

export interface StageTable {
  globalArgs: ArgCommand[];
  stages: StageEntry[];
}

/**
 * Group commands into stages. Only ARG may come before the first FROM. A repeated stage
 * name is allowed, as in BuildKit (DuplicateStageName warns about it): see findStage.
 */
export function buildStageTable(commands: readonly Command[], file?: string): StageTable {
  const table: StageTable = { globalArgs: [], stages: [] };
  for (const cmd of commands) {
    if (cmd.kind === 'from') {
      const name = cmd.stageName?.toLowerCase();
      table.stages.push({ index: table.stages.length, name, from: cmd, commands: [] });
    } else if (table.stages.length === 0) {
      if (cmd.kind !== 'arg') {
        throw new InvalidInstructionError(`${cmd.name} comes before the first FROM`, {
          hint: 'Only ARG may come before FROM; start the stage with FROM <image>.',
          location: cmd.location,
        });
      }
      table.globalArgs.push(cmd);
    } else {
      table.stages.at(-1)!.commands.push(cmd);
    }
  }
  if (table.stages.length === 0) {
    throw new InvalidInstructionError('the Dockerfile has no FROM instruction', {
      hint: 'Start the Dockerfile with FROM <image> (or FROM scratch).',
      location: file === undefined ? {} : { file },
    });
  }
  return table;
}

/**
 * A stage by name, case-insensitively. When several stages share the name, the last one
 * wins, as in BuildKit; `before` limits the search to earlier stages (what FROM sees).
 */
export function findStage(
  table: StageTable,
  name: string,
  before = table.stages.length,
): StageEntry | undefined {
  const wanted = name.toLowerCase();
  return table.stages.findLast((s) => s.name === wanted && s.index < before);
}

/** The stage `--target` names (default: the last stage); an unknown name suggests the closest. */
export function selectTarget(
  table: StageTable,
  target: string | undefined,
  file?: string,
): StageEntry {
  if (target === undefined || target === '') return table.stages.at(-1)!;
  const stage = findStage(table, target);
  if (stage) return stage;
  const names = table.stages.flatMap((s) => (s.name ? [s.name] : []));
  throw new UnknownTargetError(`target stage "${target}" could not be found`, {
    hint: didYouMean(
      closestMatch(target, names),
      names.length > 0
        ? `Stages in this Dockerfile: ${names.join(', ')}.`
        : 'Name a stage with FROM <image> AS <name>.',
    ),
    location: file === undefined ? {} : { file },
  });
}

/** The name progress shows for a stage: its own, or `stage-N`. */
export function stageDisplayName(stage: StageEntry): string {
  return stage.name ?? `stage-${stage.index}`;
}

/**
 * Whether progress names the stages, as BuildKit decides it: unless the Dockerfile has one
 * stage and nothing else it reads from. Each RUN --mount (it may name a stage, an image or
 * nothing) and each COPY --from that is not a stage counts as another source.
 */
export function showStageNames(table: StageTable): boolean {
  if (table.stages.length > 1) return true;
  const named = (ref: string) => findStage(table, ref) !== undefined;
  const indexed = (ref: string) => /^\d+$/.test(ref) && Number(ref) < table.stages.length;
  return table.stages.some((stage) =>
    stage.commands.some((cmd) => {
      // A mount's from= is looked up by stage name only; none at all means scratch.
      if (cmd.kind === 'run')
        return cmd.mounts.some((m) => !named(/(?:^|,)from=([^,]*)/.exec(m)?.[1] ?? 'scratch'));
      return (
        cmd.kind === 'copy' && cmd.from !== undefined && !named(cmd.from) && !indexed(cmd.from)
      );
    }),
  );
}
