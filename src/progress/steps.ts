/**
 * The renderers' shared view of a build: steps (vertices and tasks) numbered in order of
 * first appearance, with their state, timings, progress and recent log lines. Fed one
 * ProgressEvent at a time; renderers read it to draw.
 */
import type { SourceLocation } from '../shared/errors.ts';
import type { ProgressEvent } from '../shared/progress.ts';

export type StepStatus = 'waiting' | 'running' | 'done' | 'cached' | 'error' | 'cancelled';

export interface LogLine {
  /** When the line arrived, ms since the epoch. */
  time: number;
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface Step {
  /** 1-based number in order of first appearance (`#3`). */
  number: number;
  id: string;
  name: string;
  status: StepStatus;
  startedAt?: number;
  durationMs?: number;
  location?: SourceLocation;
  error?: { code: string; message: string };
  /** Latest progress of each sub-task (`id` of vertex.progress). */
  progress: Map<string, { current: number; total?: number | undefined }>;
  /** The last lines of output (a bounded tail). */
  logs: LogLine[];
  /** Named parts of a task that finished (`writing image sha256:…`), in order. */
  statuses: Array<{ text: string; durationMs: number }>;
}

const CANCELLED_CODE = 'TBUILD_CANCELLED';

/** How many log lines a step keeps: enough for the error box and the live view. */
export const KEPT_LOG_LINES = 10;

export class BuildState {
  readonly steps = new Map<string, Step>();
  readonly warnings: Array<{ message: string; location?: SourceLocation | undefined }> = [];
  startedAt: number | undefined;
  finished: { durationMs: number; ok: boolean } | undefined;
  /** Partial lines (no newline yet), by step id and stream. */
  readonly #partial = new Map<string, string>();

  /** Apply one event; returns the step it touched, if any. */
  apply(event: ProgressEvent): Step | undefined {
    switch (event.type) {
      case 'build.started':
        this.startedAt = event.time;
        return undefined;
      case 'build.completed':
        this.finished = { durationMs: event.durationMs, ok: event.ok };
        return undefined;
      case 'warning':
        this.warnings.push({ message: warningText(event), location: event.location });
        return undefined;
      case 'vertex.log':
        return this.#appendLog(this.#step(event.digest, event.digest), event);
      case 'vertex.progress': {
        const step = this.#step(event.digest, event.digest);
        step.progress.set(event.id, { current: event.current, total: event.total });
        return step;
      }
      case 'task.progress': {
        const step = this.#step(`task:${event.id}`, event.id);
        step.progress.set(event.id, { current: event.current, total: event.total });
        return step;
      }
      case 'task.status': {
        const step = this.#step(`task:${event.id}`, event.id);
        step.statuses.push({ text: event.status, durationMs: event.durationMs });
        return step;
      }
      default:
        return this.#applyStatus(event);
    }
  }

  #applyStatus(event: ProgressEvent): Step | undefined {
    this.startedAt ??= event.time;
    switch (event.type) {
      case 'vertex.started':
      case 'task.started': {
        const id = event.type === 'task.started' ? `task:${event.id}` : event.digest;
        const step = this.#step(id, event.name);
        step.status = 'running';
        step.startedAt = event.time;
        if (event.type === 'vertex.started') step.location = event.location;
        return step;
      }
      case 'vertex.cached': {
        const step = this.#step(event.digest, event.name);
        step.status = 'cached';
        step.location = event.location;
        return step;
      }
      case 'vertex.cache-miss':
        return this.#step(event.digest, event.name);
      case 'vertex.completed':
      case 'task.completed': {
        const id = event.type === 'task.completed' ? `task:${event.id}` : event.digest;
        const step = this.#step(id, event.name);
        step.status = 'done';
        step.durationMs = event.durationMs;
        return step;
      }
      case 'vertex.error': {
        const step = this.#step(event.digest, event.name);
        step.status = event.error.code === CANCELLED_CODE ? 'cancelled' : 'error';
        step.error = event.error;
        step.location ??= event.location;
        if (step.startedAt !== undefined) step.durationMs = event.time - step.startedAt;
        return step;
      }
      default:
        return undefined;
    }
  }

  /** Flush a step's unterminated output, e.g. when it ends. */
  flushPartial(step: Step, time: number): LogLine[] {
    const flushed: LogLine[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      const key = `${step.id}\0${stream}`;
      const rest = this.#partial.get(key);
      if (rest) flushed.push(this.#keep(step, { time, stream, text: rest }));
      this.#partial.delete(key);
    }
    return flushed;
  }

  /** Lines completed by the last vertex.log applied to `step`. */
  lastLines: LogLine[] = [];

  #appendLog(step: Step, event: Extract<ProgressEvent, { type: 'vertex.log' }>): Step {
    const key = `${step.id}\0${event.stream}`;
    const parts = ((this.#partial.get(key) ?? '') + event.data).split(/\r?\n/);
    this.#partial.set(key, parts.pop() ?? '');
    this.lastLines = parts.map((text) =>
      this.#keep(step, { time: event.time, stream: event.stream, text }),
    );
    return step;
  }

  #keep(step: Step, line: LogLine): LogLine {
    step.logs.push(line);
    if (step.logs.length > KEPT_LOG_LINES) step.logs.shift();
    return line;
  }

  #step(id: string, name: string): Step {
    let step = this.steps.get(id);
    if (step === undefined) {
      step = {
        number: this.steps.size + 1,
        id,
        name,
        status: 'waiting',
        progress: new Map(),
        logs: [],
        statuses: [],
      };
      this.steps.set(id, step);
    } else if (step.name === id && name !== id) {
      // A log line can arrive before the event that names its step.
      step.name = name;
    }
    return step;
  }
}

/** Each failed step's last output, boxed as BuildKit prints it after the progress. */
export function formatFailedSteps(state: BuildState): string {
  let out = '';
  for (const step of state.steps.values()) {
    if (step.status !== 'error') continue;
    out += `------\n > ${step.name}:\n`;
    for (const log of step.logs) {
      const at = log.time - (step.startedAt ?? log.time);
      out += `${(at / 1000).toFixed(3)} ${log.text}\n`;
    }
    out += '------\n';
  }
  return out;
}

/** `1.2s`, as BuildKit prints durations. */
export function formatSeconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
}

/** A warning as BuildKit words it: a build check's rule name, then its message. */
export function warningText(event: { message: string; rule?: string | undefined }): string {
  return event.rule ? `${event.rule}: ${event.message}` : event.message;
}
