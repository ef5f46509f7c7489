/**
 * Plain progress, like BuildKit's `--progress=plain`: one line per happening, each
 * prefixed with the step number, for logs and CI where nothing can be redrawn.
 *
 *     #3 [build 2/5] RUN make
 *     #3 0.512 cc -o app main.c
 *     #3 DONE 1.2s
 */
import type { ProgressEvent } from '../shared/progress.ts';
import { BuildState, formatSeconds, warningText } from './steps.ts';
import type { LogLine, Step } from './steps.ts';
import type { Renderer, RendererOptions, Writable } from './types.ts';

/** Where plain lines go: `step` is the step a line belongs to (none for warnings). */
export type PlainLineSink = (line: string, step: Step | undefined) => void;

/**
 * The plain renderer's lines without a stream: what the plain and GitHub renderers share.
 * Returns the event sink.
 */
export function createPlainLines(
  emit: PlainLineSink,
  _options: RendererOptions = {},
): (event: ProgressEvent) => void {
  const state = new BuildState();
  const announced = new Set<string>();

  const write = (step: Step, text: string): void => emit(`#${step.number} ${text}`, step);
  const announce = (step: Step, event: ProgressEvent): void => {
    if (announced.has(step.id) || !('name' in event)) return;
    announced.add(step.id);
    write(step, step.name);
  };
  const writeLines = (step: Step, lines: readonly LogLine[]): void => {
    for (const line of lines) {
      const at = line.time - (step.startedAt ?? line.time);
      write(step, `${(at / 1000).toFixed(3)} ${line.text}`);
    }
  };

  return (event: ProgressEvent): void => {
    const step = state.apply(event);
    if (event.type === 'warning') {
      const where = event.location?.range ? ` (line ${event.location.range.start})` : '';
      emit(`WARNING: ${warningText(event)}${where}`, undefined);
      return;
    }
    if (step === undefined) return;
    announce(step, event);
    switch (event.type) {
      case 'vertex.log':
        return writeLines(step, state.lastLines);
      case 'vertex.progress':
      case 'task.progress':
        // Only the end of a transfer: every chunk would flood a CI log.
        if (event.total !== undefined && event.current >= event.total) {
          const what = event.type === 'vertex.progress' ? `${event.id} ` : '';
          write(step, `${what}${event.current}/${event.total} done`);
        }
        return;
      case 'vertex.cache-miss':
        write(step, `cache miss: ${event.reason}`);
        return;
      case 'vertex.cached':
        return write(step, 'CACHED');
      case 'task.status': {
        // BuildKit: `#5 exporting layers 0.1s done`, the time only when it shows.
        const took = formatSeconds(event.durationMs);
        return write(step, `${event.status} ${took === '0.0s' ? '' : `${took} `}done`);
      }
      case 'vertex.completed':
      case 'task.completed':
        writeLines(step, state.flushPartial(step, event.time));
        return write(step, `DONE ${formatSeconds(event.durationMs)}`);
      case 'vertex.error':
        writeLines(step, state.flushPartial(step, event.time));
        if (step.status === 'cancelled') return write(step, 'CANCELED');
        return write(step, `ERROR: ${event.error.message}`);
      default:
        return;
    }
  };
}

/** A renderer that writes BuildKit-style plain lines to `stream`. */
export function createPlainRenderer(stream: Writable, options: RendererOptions = {}): Renderer {
  let lastStep: string | undefined;
  const sink = createPlainLines((line, step) => {
    // A blank line between steps, as BuildKit does, keeps interleaved output readable.
    if (step !== undefined) {
      if (lastStep !== undefined && lastStep !== step.id) stream.write('\n');
      lastStep = step.id;
    }
    stream.write(line + '\n');
  }, options);
  return { sink, close: () => undefined };
}
