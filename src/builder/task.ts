/** Work outside the build graph (exporting, pushing, loading) as a progress task. */
import type { ProgressSink } from '../shared/progress.ts';

/**
 * Run `work` as a named part of the task, reported (`task.status`) when it is done:
 * BuildKit's `writing image sha256:…` under `exporting to image`.
 */
export type TaskStatus = <T>(status: string, work: () => T | Promise<T>) => Promise<T>;

/** Run `fn` between task.started and task.completed events named `name`. */
export async function task<T>(
  emit: ProgressSink,
  name: string,
  fn: (status: TaskStatus) => Promise<T>,
): Promise<T> {
  const id = name.replace(/\W+/g, '-');
  const start = Date.now();
  emit({ type: 'task.started', time: start, id, name });
  const status: TaskStatus = async (text, work) => {
    const began = Date.now();
    const result = await work();
    emit({
      type: 'task.status',
      time: Date.now(),
      id,
      status: text,
      durationMs: Date.now() - began,
    });
    return result;
  };
  const result = await fn(status);
  emit({ type: 'task.completed', time: Date.now(), id, name, durationMs: Date.now() - start });
  return result;
}
