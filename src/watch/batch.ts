/**
 * Batches of changed paths. A change that comes after `debounceMs` of quiet is handed
 * over at once (`leading`), so a one-file save starts its build without waiting; changes
 * that follow within `debounceMs` of another are gathered and handed over once
 * `debounceMs` pass with no new change, so an editor's save (write, rename, chmod) or a
 * `git checkout` of fifty files adds one batch after the first.
 */
export interface ChangeBatch {
  /** Absolute paths, each once, in the order they first changed. */
  paths: string[];
  /** When the first change of the batch was seen (ms since the epoch). */
  firstChangeAt: number;
  /** The batch is one change after a quiet time, handed over without waiting. */
  leading: boolean;
}

export interface Batcher {
  add(path: string): void;
  /** Whether changes are being gathered for a batch that is not handed over yet. */
  gathering(): boolean;
  /** Hand over what is pending now, without waiting (e.g. a forced rebuild). */
  flush(): void;
  /** Drop pending changes and stop the timer. */
  close(): void;
}

export interface BatcherOptions {
  /** Hand over a change after a quiet time at once (default: every batch waits). */
  leading?: boolean;
  now?: () => number;
}

export function createBatcher(
  debounceMs: number,
  onBatch: (batch: ChangeBatch) => void,
  { leading = false, now = Date.now }: BatcherOptions = {},
): Batcher {
  let pending = new Set<string>();
  let firstChangeAt = 0;
  let lastChangeAt = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    timer = undefined;
    if (pending.size === 0) return;
    const batch = { paths: [...pending], firstChangeAt, leading: false };
    pending = new Set();
    onBatch(batch);
  };
  return {
    add(path) {
      const at = now();
      const quiet = timer === undefined && at - lastChangeAt >= debounceMs;
      lastChangeAt = at;
      if (leading && quiet) {
        onBatch({ paths: [path], firstChangeAt: at, leading: true });
        return;
      }
      if (pending.size === 0) firstChangeAt = at;
      pending.add(path);
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(fire, debounceMs);
    },
    gathering: () => timer !== undefined,
    flush() {
      if (timer !== undefined) clearTimeout(timer);
      fire();
    },
    close() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      pending = new Set();
    },
  };
}
