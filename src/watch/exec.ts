/**
 * `--exec CMD`: a host command after every successful build, with TBUILD_IMAGE_ID set to
 * the new image. A command still running when the next build succeeds is stopped first.
 */
import { spawn } from 'node:child_process';
import type { WatchIO } from './types.ts';

export interface RunningExec {
  stop(): Promise<void>;
}

export function startExec(
  command: string,
  imageId: string,
  cwd: string,
  env: Readonly<Record<string, string | undefined>>,
  io: WatchIO,
): RunningExec {
  const child = spawn('sh', ['-c', command], {
    cwd,
    env: { ...env, TBUILD_IMAGE_ID: imageId },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so stopping reaches what it started
  });
  child.stdout.on('data', (data: Buffer) =>
    io.onEvent({ type: 'exec-output', stream: 'stdout', data }),
  );
  child.stderr.on('data', (data: Buffer) =>
    io.onEvent({ type: 'exec-output', stream: 'stderr', data }),
  );
  let stopping = false;
  const exited = new Promise<void>((resolve) => {
    child.on('error', (error) => {
      io.onEvent({
        type: 'exec-output',
        stream: 'stderr',
        data: Buffer.from(`${error.message}\n`),
      });
      resolve();
    });
    child.on('close', (code, signal) => {
      if (!stopping)
        io.onEvent({ type: 'exec-finished', command, exitCode: code ?? (signal ? 128 + 15 : 1) });
      resolve();
    });
  });
  return {
    async stop() {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
        const killer = setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }, 5_000);
        await exited;
        clearTimeout(killer);
      }
      await exited;
    },
  };
}
