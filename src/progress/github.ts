/**
 * Progress for GitHub Actions logs: BuildKit's plain lines, folded into one `::group::` per
 * stage, and warnings as `::warning` annotations on the Dockerfile line they point at.
 *
 * Stages run in parallel, but a group cannot be reopened once another starts, so one
 * stage streams live while lines of the others wait; when the live stage has nothing
 * running, the next stage with waiting lines takes over (a stage that resumes later gets a
 * second group). Everything left is written when the build ends.
 */
import type { SourceLocation } from '../shared/errors.ts';
import type { ProgressEvent } from '../shared/progress.ts';
import { createPlainLines } from './plain.ts';
import type { Step } from './steps.ts';
import type { Renderer, RendererOptions, Writable } from './types.ts';
import { formatCommand } from './workflow-commands.ts';

export interface GitHubRendererOptions extends RendererOptions {
  /**
   * The annotation's `file` for a Dockerfile location: a path relative to the repository
   * root, so that GitHub shows it on the file; undefined to annotate without a file.
   */
  annotationFile?: (location: SourceLocation | undefined) => string | undefined;
}

/**
 * `[build 2/5] RUN make` → `build`; `[internal] load …` → `internal`; `[2/3] RUN …` (the
 * one stage of a single-stage Dockerfile, unnamed) → `''`; others (tasks) by name.
 */
export function stageOf(stepName: string): string {
  if (/^\[\d+\/\d+\]/.test(stepName)) return '';
  const match = /^\[([^\]\s]+)(?:\s+\d+\/\d+)?\]/.exec(stepName);
  return match ? match[1]! : stepName;
}

function groupTitle(stage: string): string {
  if (stage === '') return 'Build steps';
  if (stage === 'internal') return 'Loading definitions and context';
  return stage.includes(' ') ? stage : `Stage ${stage}`;
}

export function createGitHubRenderer(
  stream: Writable,
  options: GitHubRendererOptions = {},
): Renderer {
  let live: string | undefined;
  let lastStep: string | undefined;
  const waiting = new Map<string, Array<{ id: string; line: string }>>();
  const running = new Map<string, Set<string>>();

  const put = (id: string, line: string) => {
    // A blank line between steps, as in plain output.
    if (lastStep !== undefined && lastStep !== id) stream.write('\n');
    lastStep = id;
    stream.write(line + '\n');
  };
  const open = (stage: string) => {
    if (live !== undefined) stream.write('::endgroup::\n');
    live = stage;
    lastStep = undefined;
    stream.write(`::group::${groupTitle(stage)}\n`);
    for (const { id, line } of waiting.get(stage) ?? []) put(id, line);
    waiting.delete(stage);
  };
  const emit = (line: string, step: Step | undefined) => {
    if (step === undefined) return;
    const stage = stageOf(step.name);
    if (live === undefined) open(stage);
    if (stage === live) put(step.id, line);
    else waiting.set(stage, [...(waiting.get(stage) ?? []), { id: step.id, line }]);
  };
  const plain = createPlainLines(emit, options);

  const track = (event: ProgressEvent) => {
    const name = 'name' in event ? event.name : undefined;
    if (event.type === 'vertex.started' || event.type === 'task.started') {
      const stage = stageOf(name!);
      const id = event.type === 'task.started' ? `task:${event.id}` : event.digest;
      running.set(stage, (running.get(stage) ?? new Set()).add(id));
    }
    if (
      event.type === 'vertex.completed' ||
      event.type === 'vertex.error' ||
      event.type === 'task.completed'
    ) {
      const id = event.type === 'task.completed' ? `task:${event.id}` : event.digest;
      running.get(stageOf(name!))?.delete(id);
    }
  };
  // The live stage is idle and another has lines waiting: hand over.
  const handOver = () => {
    if (live !== undefined && (running.get(live)?.size ?? 0) > 0) return;
    const next = [...waiting.keys()][0];
    if (next !== undefined) open(next);
  };
  const flush = () => {
    while (waiting.size > 0) open([...waiting.keys()][0]!);
    if (live !== undefined) stream.write('::endgroup::\n');
    live = undefined;
  };

  const sink = (event: ProgressEvent) => {
    if (event.type === 'warning') {
      const file = options.annotationFile?.(event.location);
      const range = event.location?.range;
      stream.write(
        formatCommand('warning', { file, line: range?.start, endLine: range?.end }, event.message) +
          '\n',
      );
      return;
    }
    track(event);
    plain(event);
    if (event.type === 'build.completed') flush();
    else handOver();
  };
  return { sink, close: flush };
}
