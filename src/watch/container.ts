/**
 * `--run`: the built image's command in a container, restarted after every successful
 * build. Stopping one sends STOPSIGNAL, then SIGKILL after the stop timeout.
 */
import type { Builder, BuildResult } from '../builder/index.ts';
import type { WatchIO, WatchOptions } from './types.ts';

export interface RunningContainer {
  /** Stop it and wait until it is gone (its mounts and runc state removed). */
  stop(): Promise<void>;
}

export function startContainer(
  builder: Builder,
  image: BuildResult,
  run: NonNullable<WatchOptions['run']>,
  io: WatchIO,
): RunningContainer {
  const abort = new AbortController();
  io.onEvent({ type: 'container-started', imageId: image.imageId });
  const exited = builder
    .runImage(image, {
      ...(run.command !== undefined ? { command: run.command } : {}),
      signal: abort.signal,
      stopTimeoutMs: run.stopTimeoutMs,
      stdout: (data) => io.onEvent({ type: 'container-output', stream: 'stdout', data }),
      stderr: (data) => io.onEvent({ type: 'container-output', stream: 'stderr', data }),
    })
    .then(
      (exitCode) => io.onEvent({ type: 'container-exited', imageId: image.imageId, exitCode }),
      (error: unknown) =>
        io.onEvent(
          abort.signal.aborted
            ? { type: 'container-stopped', imageId: image.imageId }
            : { type: 'container-failed', imageId: image.imageId, error },
        ),
    );
  return {
    async stop() {
      abort.abort();
      await exited;
    },
  };
}
