/**
 * `tbuild watch` (and `tbuild build --watch`) as a command: build flags as for a build,
 * one builder for the session, a renderer per build, the summary and container output on
 * stderr, and `r`/`q` keys on a terminal. Ctrl-C stops the build and the container and
 * exits 130; `q` exits 0.
 */
import type { Builder } from '../../builder/builder.ts';
import { parseGoDuration } from '../../frontend/instructions/duration.ts';
import { openRenderer } from '../../progress/index.ts';
import { CancelledError, UsageError } from '../../shared/errors.ts';
import type { WatchOptions } from '../../watch/types.ts';
import { parseBuildFlags, type BuildFlags } from '../build/flags.ts';
import type { CliIO } from '../io.ts';
import { createLinePrefixer, formatWatchEvent } from './render.ts';

export interface WatchFlags {
  debounce?: string;
  queue?: boolean;
  run?: boolean;
  exec?: string;
  stopTimeout?: number;
  /** Arguments after `--`: the command for --run. */
  command?: string[];
}

export function parseWatchFlags(flags: WatchFlags): WatchOptions {
  const debounceMs = parseDebounce(flags.debounce ?? '100ms');
  if (flags.command?.length && !flags.run)
    throw new UsageError('a command after -- is for --run', {
      hint: 'Add --run to run the image with that command after each build.',
    });
  if (flags.run && flags.exec !== undefined)
    throw new UsageError('--run and --exec cannot be combined', {
      hint: 'Use --run to restart the image, or --exec to run a host command.',
    });
  const stopTimeout = flags.stopTimeout ?? 10;
  if (!Number.isFinite(stopTimeout) || stopTimeout < 0)
    throw new UsageError(`invalid --stop-timeout "${flags.stopTimeout}"`, {
      hint: 'Give seconds, e.g. --stop-timeout 10.',
    });
  return {
    debounceMs,
    queue: flags.queue ?? false,
    ...(flags.run
      ? {
          run: {
            ...(flags.command?.length ? { command: flags.command } : {}),
            stopTimeoutMs: stopTimeout * 1000,
          },
        }
      : {}),
    ...(flags.exec !== undefined ? { exec: flags.exec } : {}),
  };
}

/** `100ms`, `0.5s`, `2s`, or a bare number of milliseconds. */
function parseDebounce(text: string): number {
  const ns = /^\d+$/.test(text) ? Number(text) * 1e6 : parseGoDuration(text);
  if (ns === undefined || ns < 0)
    throw new UsageError(`invalid --debounce "${text}"`, {
      hint: 'Give a duration such as 100ms or 1s.',
    });
  return ns / 1e6;
}

export async function runWatchCli(
  flags: BuildFlags,
  watchFlags: WatchFlags,
  io: CliIO,
): Promise<void> {
  const { options, settings } = await parseBuildFlags(flags, io.env);
  const watchOptions = parseWatchFlags(watchFlags);
  if (settings.dryRun)
    throw new UsageError('--dry-run cannot be combined with watch', {
      hint: 'Run tbuild build --dry-run on its own.',
    });
  if (settings.check)
    throw new UsageError('--check (--call=check) cannot be combined with watch', {
      hint: 'Run tbuild build --check on its own; a watched build shows the same warnings.',
    });
  const run = { cwd: io.cwd, env: io.env, stdout: io.stdout };
  const [{ createBuilder }, { startWatch }, { resolveWatchTarget }] = await Promise.all([
    import('../../builder/builder.ts'),
    import('../../watch/loop.ts'),
    import('../../watch/watcher.ts'),
  ]);
  const target = await resolveWatchTarget(options, run);
  const builder: Builder = await createBuilder({
    ...(settings.root !== undefined ? { root: settings.root } : {}),
    ...(settings.maxParallelism !== undefined ? { parallelism: settings.maxParallelism } : {}),
    insecureRegistries: settings.insecureRegistries,
    env: io.env,
  });
  const say = (text: string) => io.stderr.write(text + '\n');
  const containerOut = createLinePrefixer('[run] ', (t) => io.stderr.write(t));
  const containerErr = createLinePrefixer('[run] ', (t) => io.stderr.write(t));
  const execOut = createLinePrefixer('[exec] ', (t) => io.stderr.write(t));
  let quit: (how: 'quit' | 'interrupt') => void = () => undefined;
  const ended = new Promise<'quit' | 'interrupt'>((resolve) => (quit = resolve));
  try {
    for (const message of settings.warnings) say(`WARNING: ${message}`);
    const session = await startWatch(builder, options, target, run, watchOptions, {
      onEvent(event) {
        if (event.type === 'container-output')
          (event.stream === 'stdout' ? containerOut : containerErr).push(event.data);
        else if (event.type === 'exec-output') execOut.push(event.data);
        else {
          if (event.type.startsWith('container-')) {
            containerOut.flush();
            containerErr.flush();
          }
          if (event.type === 'exec-finished') execOut.flush();
          const text = formatWatchEvent(event);
          if (text !== undefined) say(text);
        }
      },
      async openProgress() {
        return openRenderer(settings.progress, io.stderr, { env: io.env });
      },
    });
    const onAbort = () => quit('interrupt');
    io.signal.addEventListener('abort', onAbort, { once: true });
    const keys = listenForKeys(io, {
      rebuild: () => session.rebuild(),
      quit: () => quit('quit'),
      interrupt: () => quit('interrupt'),
    });
    try {
      const how = await ended;
      await session.stop();
      if (how === 'interrupt') throw new CancelledError('watch stopped');
    } finally {
      keys.close();
      io.signal.removeEventListener('abort', onAbort);
    }
  } finally {
    await builder.close();
  }
}

/** `r` rebuilds, `q` quits, Ctrl-C interrupts: only when stdin is a terminal. */
function listenForKeys(
  io: CliIO,
  actions: { rebuild(): void; quit(): void; interrupt(): void },
): { close(): void } {
  const stdin = io.stdin as NodeJS.ReadStream;
  if (stdin.isTTY !== true || typeof stdin.setRawMode !== 'function') return { close() {} };
  stdin.setRawMode(true);
  stdin.resume();
  const onData = (data: Buffer) => {
    for (const key of data.toString('utf8')) {
      if (key === 'r') actions.rebuild();
      else if (key === 'q') actions.quit();
      else if (key === '\u0003') actions.interrupt();
    }
  };
  stdin.on('data', onData);
  return {
    close() {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
    },
  };
}
