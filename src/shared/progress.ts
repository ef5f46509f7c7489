/**
 * Machine-readable progress events. Library code emits these through a `ProgressSink`;
 * renderers in src/progress decide what a person (or a tool reading JSON lines) sees.
 * Every event is a plain JSON-serialisable object.
 */
import type { Digest } from './digest.ts';
import type { SourceLocation } from './errors.ts';

export type ProgressEvent =
  | { type: 'build.started'; time: number; target?: string | undefined }
  | { type: 'build.completed'; time: number; durationMs: number; ok: boolean }
  /** A vertex (one step of the graph) started executing. */
  | {
      type: 'vertex.started';
      time: number;
      digest: Digest;
      name: string;
      location?: SourceLocation | undefined;
    }
  /** A vertex's result came from the cache; it did not run. */
  | {
      type: 'vertex.cached';
      time: number;
      digest: Digest;
      name: string;
      location?: SourceLocation | undefined;
    }
  /** Why a vertex missed the cache (for --explain and json progress). */
  | { type: 'vertex.cache-miss'; time: number; digest: Digest; name: string; reason: string }
  | { type: 'vertex.log'; time: number; digest: Digest; stream: 'stdout' | 'stderr'; data: string }
  /** Byte or item progress inside a vertex (context transfer, layer pull, push). */
  | {
      type: 'vertex.progress';
      time: number;
      digest: Digest;
      id: string;
      current: number;
      total?: number | undefined;
    }
  | { type: 'vertex.completed'; time: number; digest: Digest; name: string; durationMs: number }
  | {
      type: 'vertex.error';
      time: number;
      digest: Digest;
      name: string;
      error: { code: string; message: string };
      location?: SourceLocation | undefined;
    }
  /** Work outside the graph: exporting, pushing, pulling. */
  | { type: 'task.started'; time: number; id: string; name: string }
  | { type: 'task.progress'; time: number; id: string; current: number; total?: number | undefined }
  | { type: 'task.completed'; time: number; id: string; name: string; durationMs: number }
  /** A named part of a task finished, e.g. `writing image sha256:…` of `exporting to image`. */
  | { type: 'task.status'; time: number; id: string; status: string; durationMs: number }
  | {
      type: 'warning';
      time: number;
      message: string;
      /** The build check that raised it (`JSONArgsRecommended`), shown before the message. */
      rule?: string | undefined;
      location?: SourceLocation | undefined;
    };

export type ProgressSink = (event: ProgressEvent) => void;

export const noProgress: ProgressSink = () => {};

/**
 * Run `work` between `task.started` and `task.completed` events; the task completes also
 * when `work` throws. `work` gets the start time (for `task.status` durations).
 */
export async function inTask<T>(
  emit: ProgressSink,
  id: string,
  name: string,
  work: (started: number) => Promise<T>,
): Promise<T> {
  const started = Date.now();
  emit({ type: 'task.started', time: started, id, name });
  try {
    return await work(started);
  } finally {
    emit({ type: 'task.completed', time: Date.now(), id, name, durationMs: Date.now() - started });
  }
}
