/** Work outside the build graph (exporting, pushing, loading) as a progress task. */
import type { ProgressSink } from '../shared/progress.ts';

/** Run `fn` between task.started and task.completed events named `name`. */
export async function task<T>(emit: ProgressSink, name: string, fn: () => Promise<T>): Promise<T> {
  const id = name.replace(/\W+/g, '-');
  const start = Date.now();
  emit({ type: 'task.started', time: start, id, name });
  const result = await fn();
  emit({ type: 'task.completed', time: Date.now(), id, name, durationMs: Date.now() - start });
  return result;
}
