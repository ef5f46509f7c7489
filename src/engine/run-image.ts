/**
 * Run a built image's command in a container, as `docker run --rm --network=host IMAGE`
 * would: the image's ENTRYPOINT and CMD (or a given command), USER, ENV and WORKDIR, on a
 * throw-away writable layer over the image's snapshots. Stopping sends the image's
 * STOPSIGNAL, then SIGKILL after a grace period, as `docker stop` does.
 */
import { mkdir } from 'node:fs/promises';
import type { SnapshotId, Store } from '../cache/types.ts';
import type { Executor } from '../exec/types.ts';
import { resolveInRoot, resolveUser } from '../exec/user.ts';
import { TbuildError } from '../shared/errors.ts';
import type { ImageConfig } from '../shared/oci.ts';
import { openScope } from './mounts.ts';

const DEFAULT_HOSTS = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';

export interface RunImageOptions {
  /** Replaces the image's CMD (ENTRYPOINT stays), as arguments after the image in docker run. */
  command?: readonly string[];
  /** Stops the container: STOPSIGNAL (default SIGTERM), then SIGKILL after `stopTimeoutMs`. */
  signal: AbortSignal;
  stopTimeoutMs?: number;
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
}

export class NoCommandError extends TbuildError {
  constructor() {
    super('TBUILD_RUN_NO_COMMAND', 'the image has no command to run (no ENTRYPOINT or CMD)', {
      hint: 'Add CMD to the Dockerfile, or give the command after -- (tbuild watch --run . -- CMD).',
    });
  }
}

/** Run the image to completion (or until stopped); resolves with its exit code. */
export async function runImage(
  store: Store,
  executor: Executor,
  image: { snapshot: SnapshotId | null; config: ImageConfig },
  options: RunImageOptions,
): Promise<number> {
  const config = image.config.config ?? {};
  const args = [...(config.Entrypoint ?? []), ...(options.command ?? config.Cmd ?? [])];
  if (args.length === 0) throw new NoCommandError();
  const scope = openScope(store);
  try {
    const rootfs =
      image.snapshot === null
        ? await scope.tempDir()
        : await scope.mountScratchWritable({ kind: 'snapshot', id: image.snapshot });
    const user = await resolveUser(rootfs, config.User ?? '');
    const cwd = config.WorkingDir || '/';
    await mkdir(await resolveInRoot(rootfs, cwd, true), { recursive: true, mode: 0o755 });
    const result = await executor.run(
      {
        rootfs,
        process: {
          args,
          env: config.Env ?? [],
          cwd,
          uid: user.uid,
          gid: user.gid,
          additionalGids: user.additionalGids,
        },
        mounts: [],
        network: 'host',
        security: 'sandbox',
        hostname: 'tbuild-run',
        hosts: DEFAULT_HOSTS,
        stop: {
          signal: config.StopSignal ?? 'SIGTERM',
          timeoutMs: options.stopTimeoutMs ?? 10_000,
        },
      },
      { stdout: options.stdout, stderr: options.stderr },
      options.signal,
    );
    return result.exitCode;
  } finally {
    await scope.close();
  }
}
