/**
 * Which snapshotter this process's builds use (ADR 17), said as a build warning when it is
 * not kernel overlayfs. The probe runs at the process's first mount (exec/overlay.ts), so
 * a build whose steps are all cached mounts and probes nothing.
 */
import { describeChoice, watchSnapshotterChoice } from '../exec/snapshotter.ts';
import type { ProgressSink } from '../shared/progress.ts';

/** Emit the snapshotter's warning to `emit` once it is chosen (now, if it already is). */
export function watchStorage(emit: ProgressSink): () => void {
  return watchSnapshotterChoice((choice) => {
    const notice = describeChoice(choice);
    if (notice !== undefined) emit({ type: 'warning', time: Date.now(), message: notice });
  });
}
