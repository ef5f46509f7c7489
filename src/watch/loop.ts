/**
 * The watch loop: build once, then rebuild on every batch of changes (batch.ts). A change
 * during a build cancels it and starts a new one (or waits for it, with `queue`). A build
 * started by a lone change without waiting (a leading batch) is speculative: a change that
 * follows within the debounce time cancels it at once, and one build of everything follows
 * the quiet time. After each successful build the image's container (`--run`) or a host
 * command (`--exec`) is restarted. One builder serves every build, so the store, solver
 * and stat cache stay open.
 */
import path from 'node:path';
import type { Builder, BuildOptions, BuildResult, BuildRun } from '../builder/index.ts';
import { createBatcher, type ChangeBatch } from './batch.ts';
import { startExec, type RunningExec } from './exec.ts';
import { startContainer, type RunningContainer } from './container.ts';
import type { WatchIO, WatchOptions } from './types.ts';
import { openWatcher, type WatchTarget, type Watcher } from './watcher.ts';

export interface WatchSession {
  /** Build now, whether or not anything changed (the `r` key). */
  rebuild(): void;
  /** Stop watching: cancel a running build, stop the container; resolves once all is released. */
  stop(): Promise<void>;
}

interface Pending {
  paths: Set<string>;
  firstChangeAt: number;
  forced: boolean;
  /** Only a leading batch: more changes may be on their way. */
  speculative: boolean;
}

interface CurrentBuild {
  abort: AbortController;
  done: Promise<void>;
  speculative: boolean;
}

/**
 * Start watching `target` (what resolveWatchTarget found for the build options) and build
 * it with `builder` on every change. `run` carries the build's cwd, env and stdout.
 */
export async function startWatch(
  builder: Builder,
  build: BuildOptions,
  target: WatchTarget,
  run: Pick<BuildRun, 'cwd' | 'env' | 'stdout'>,
  options: WatchOptions,
  io: WatchIO,
): Promise<WatchSession> {
  const cwd = run.cwd ?? path.resolve();
  let builds = 0;
  let stopped = false;
  let current: CurrentBuild | undefined;
  let pending: Pending | undefined = {
    paths: new Set(),
    firstChangeAt: Date.now(),
    forced: true,
    speculative: false,
  };
  let container: RunningContainer | undefined;
  let exec: RunningExec | undefined;

  const take = (
    paths: readonly string[],
    firstChangeAt: number,
    forced = false,
    speculative = false,
  ) => {
    if (pending === undefined) pending = { paths: new Set(), firstChangeAt, forced, speculative };
    else pending.speculative = false;
    for (const p of paths) pending.paths.add(p);
    pending.firstChangeAt = Math.min(pending.firstChangeAt, firstChangeAt);
    pending.forced ||= forced;
  };

  const next = () => {
    // Changes being gathered start their build when the batcher hands them over.
    if (stopped || pending === undefined || batcher.gathering()) return;
    if (current !== undefined) {
      if (!options.queue) current.abort.abort();
      return; // the running build's end starts the next one
    }
    const batch = pending;
    pending = undefined;
    current = runOne(batch);
  };

  const runOne = (batch: Pending): CurrentBuild => {
    const number = ++builds;
    const abort = new AbortController();
    const changed = [...batch.paths].map((p) => path.relative(cwd, p) || p);
    const done = (async () => {
      const started = Date.now();
      const reason = number === 1 ? 'initial' : batch.forced ? 'forced' : 'changes';
      io.onEvent({ type: 'build-started', build: number, reason });
      const progress = await io.openProgress(number);
      try {
        const result = await builder.build(build, {
          ...run,
          signal: abort.signal,
          onProgress: progress.sink,
          // The watcher says what changed, so the context is not listed again; the first
          // build and a forced one (r) list it all.
          ...(number > 1 && !batch.forced ? { changedPaths: [...batch.paths] } : {}),
        });
        progress.close();
        const now = Date.now();
        io.onEvent({
          type: 'build-succeeded',
          summary: {
            build: number,
            changed,
            result,
            latencyMs: now - batch.firstChangeAt,
            durationMs: now - started,
          },
        });
        restart(result);
      } catch (error) {
        progress.close();
        if (abort.signal.aborted) {
          io.onEvent({ type: 'build-cancelled', build: number });
          // Its changes are still to be built.
          take([...batch.paths], batch.firstChangeAt, batch.forced);
        } else io.onEvent({ type: 'build-failed', build: number, error });
      }
    })().finally(() => {
      current = undefined;
      next();
    });
    return { abort, done, speculative: batch.speculative };
  };

  /**
   * Replace the container (--run) or command (--exec) with one for `result`. Restarts run
   * one at a time, beside the builds: a container that takes its stop timeout to go does
   * not hold up the next build.
   */
  let restarts: Promise<void> = Promise.resolve();
  const restart = (result: BuildResult) => {
    restarts = restarts.then(async () => {
      if (options.run) {
        await container?.stop();
        if (!stopped) container = startContainer(builder, result, options.run, io);
      }
      if (options.exec !== undefined) {
        await exec?.stop();
        if (!stopped) exec = startExec(options.exec, result.imageId, cwd, run.env ?? {}, io);
      }
    });
  };

  const batcher = createBatcher(
    options.debounceMs,
    (batch: ChangeBatch) => {
      io.onEvent({ type: 'changes', paths: batch.paths.map((p) => path.relative(cwd, p) || p) });
      take(batch.paths, batch.firstChangeAt, false, batch.leading);
      next();
    },
    // With `queue` every build runs to its end, so none is started on a guess.
    { leading: !options.queue },
  );
  const watcher: Watcher = await openWatcher(
    target,
    (file) => {
      batcher.add(file);
      // A speculative build is out of date once another change is being gathered.
      if (current?.speculative && batcher.gathering()) current.abort.abort();
    },
    (error) => {
      // Changes may have been lost: the next build lists the contexts again, in full.
      io.onEvent({ type: 'watch-error', error });
      take([], Date.now(), true);
      next();
    },
  );
  io.onEvent({ type: 'watching', paths: target.paths.map((p) => path.relative(cwd, p) || '.') });
  next();

  return {
    rebuild() {
      batcher.flush();
      take([], Date.now(), true);
      next();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      batcher.close();
      await watcher.close();
      const running = current;
      running?.abort.abort();
      await running?.done;
      await restarts;
      await container?.stop();
      await exec?.stop();
    },
  };
}
