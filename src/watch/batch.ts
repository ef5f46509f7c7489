/**
 * Debounced batches of changed paths: a batch is handed over once `debounceMs` pass with
 * no new change, so an editor's save (write, rename, chmod) or a `git checkout` of fifty
 * files becomes one build.
 */
export interface ChangeBatch {
  /** Absolute paths, each once, in the order they first changed. */
  paths: string[];
  /** When the first change of the batch was seen (ms since the epoch). */
  firstChangeAt: number;
}

export interface Batcher {
  add(path: string): void;
  /** Hand over what is pending now, without waiting (e.g. a forced rebuild). */
  flush(): void;
  /** Drop pending changes and stop the timer. */
  close(): void;
}

export function createBatcher(
  debounceMs: number,
  onBatch: (batch: ChangeBatch) => void,
  now: () => number = Date.now,
): Batcher {
  let pending = new Set<string>();
  let firstChangeAt = 0;
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    timer = undefined;
    if (pending.size === 0) return;
    const batch = { paths: [...pending], firstChangeAt };
    pending = new Set();
    onBatch(batch);
  };
  return {
    add(path) {
      if (pending.size === 0) firstChangeAt = now();
      pending.add(path);
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(fire, debounceMs);
    },
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
