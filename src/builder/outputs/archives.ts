/**
 * Archive and filesystem outputs, and the image each image-writing output (archive or
 * push) wants: output attributes that change the image bytes (compression,
 * oci-mediatypes, rewrite-timestamp) re-commit the image with them; layer blobs already
 * made are reused.
 */
import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { commitImage, type CommittedImage } from '../../engine/commit-image.ts';
import { fetchLazyBlobs } from '../../engine/lazy-layers.ts';
import { snapshotChain } from '../../engine/store-check.ts';
import type { Compression } from '../../exporter/compression.ts';
import { exportDockerArchive } from '../../exporter/docker-archive.ts';
import { exportLayersToDirectory, exportLayersToTar } from '../../exporter/filesystem.ts';
import { exportOciLayout } from '../../exporter/oci-layout.ts';
import { OutputClosedError, TbuildError, UsageError } from '../../shared/errors.ts';
import { imageAttributes } from '../specs/image-attributes.ts';
import type { ImageConfig } from '../../shared/oci.ts';
import type { OutputSpec } from '../types.ts';
import type { OutputContext } from './write-outputs.ts';

/**
 * The image as this output wants it (its attributes, see specs/image-attributes.ts): the
 * committed config with every layer blob made with the output's compression, or reused
 * when made before (ADR 12). Config and manifest are written again, which is cheap.
 */
export async function imageFor(
  ctx: Pick<OutputContext, 'store' | 'options' | 'committed'>,
  output: OutputSpec,
): Promise<CommittedImage> {
  const wanted = imageAttributes(output);
  const root =
    ctx.committed.snapshot === null
      ? null
      : ({ kind: 'snapshot', id: ctx.committed.snapshot } as const);
  const config = await ctx.store.blobs.readJson<ImageConfig>(
    ctx.committed.config.descriptor.digest,
  );
  const reuse: Compression[] = wanted.ociMediaTypes ? ['gzip', 'zstd'] : ['gzip'];
  // The committed config already carries the diff_ids; commitImage recomputes them from the layers.
  return commitImage(
    ctx.store,
    root,
    { ...config, rootfs: { type: 'layers', diff_ids: [] } },
    {
      ociMediaTypes: wanted.ociMediaTypes,
      compression: wanted.compression,
      ...(wanted.forceCompression ? {} : { reuseCompressions: reuse }),
      ...(wanted.compressionLevel !== undefined
        ? { compressionLevel: wanted.compressionLevel }
        : {}),
      ...(ctx.options.sourceDateEpoch !== undefined
        ? { sourceDateEpoch: ctx.options.sourceDateEpoch }
        : {}),
      ...(wanted.rewriteTimestamps ? { rewriteTimestamps: true } : {}),
    },
  );
}

export async function exportArchive(ctx: OutputContext, output: OutputSpec): Promise<void> {
  const image = { ...(await imageFor(ctx, output)), blobs: ctx.store.blobs };
  // An archive holds the layer bytes: lazy layers of an imported cache are fetched now.
  await fetchLazyBlobs(
    ctx.store,
    image.layers.map((l) => l.digest),
    ctx.signal,
  );
  const options = {
    names: output.names,
    ...(ctx.options.sourceDateEpoch !== undefined
      ? { sourceDateEpoch: ctx.options.sourceDateEpoch }
      : {}),
  };
  if (output.dest === 'docker-load') {
    await dockerLoad((stdin) => exportDockerArchive(image, stdin, options));
    return;
  }
  const dest = output.dest === '-' ? standardOutput(ctx) : output.dest!;
  if (output.type === 'oci')
    await exportOciLayout(image, dest, { ...options, directory: output.attrs.tar === 'false' });
  else await exportDockerArchive(image, dest, options);
}

export async function exportFilesystem(ctx: OutputContext, output: OutputSpec): Promise<void> {
  const snapshot = ctx.committed.snapshot;
  // Restores layers whose directories are missing (lazy layers of an imported cache).
  const dirs =
    snapshot === null ? [] : (await snapshotChain(ctx.store, snapshot)).map((s) => s.dir).reverse();
  if (output.type === 'local') {
    await exportLayersToDirectory(dirs, output.dest!);
    return;
  }
  await exportLayersToTar(dirs, output.dest === '-' ? standardOutput(ctx) : output.dest!, {
    tempDir: await ctx.store.tempDir('export'),
    ...(ctx.options.sourceDateEpoch !== undefined
      ? { sourceDateEpoch: ctx.options.sourceDateEpoch }
      : {}),
    ...(output.attrs['rewrite-timestamp'] === 'true' ? { rewriteTimestamps: true } : {}),
  });
}

/**
 * The caller's stream for `dest=-`, behind a view whose end does not end it: the caller
 * owns its stdout and may write more after the build. A reader that goes away (`| head`)
 * ends the output with OutputClosedError instead of an unhandled EPIPE.
 */
export function standardOutput(ctx: Pick<OutputContext, 'stdout'>): Writable {
  const stdout = ctx.stdout;
  if (stdout === undefined)
    throw new UsageError('an output has dest=-, but this build has no standard output', {
      hint: 'Give the output a file or directory as dest=, or pass stdout to the build.',
    });
  // The write callback reports the failure; the stream's own 'error' event must not crash.
  const ignore = (): void => undefined;
  stdout.on('error', ignore);
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (stdout.destroyed) {
        done(new OutputClosedError());
        return;
      }
      stdout.write(chunk, (error) => done(error ? closedOr(error) : null));
    },
    final(done) {
      stdout.off('error', ignore);
      done();
    },
  });
}

function closedOr(error: Error): Error {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED'
    ? new OutputClosedError({ cause: error })
    : error;
}

const DOCKER_LOAD_HINT =
  'Install the docker CLI and start a Docker daemon (`docker info` should answer), or write the image with -o type=docker,dest=image.tar.';

/**
 * `--load`: stream a docker archive into `docker load` of a running daemon. A missing docker
 * CLI or a daemon that does not answer is a TbuildError with a hint, whichever of the
 * writer and the process notices it first.
 */
async function dockerLoad(write: (stdin: Writable) => Promise<void>): Promise<void> {
  const child = spawn('docker', ['load'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Settles on exit or on a failed spawn and never rejects, so no failure goes unhandled.
  const exited = new Promise<{ code: number; error?: NodeJS.ErrnoException }>((resolve) => {
    child.on('error', (error) => resolve({ code: 127, error }));
    child.on('close', (code) => resolve({ code: code ?? 1 }));
  });
  // docker gone (not installed, or exited on an unreachable daemon): EPIPE on its stdin.
  child.stdin.on('error', () => undefined);
  let writeError: unknown;
  try {
    await write(child.stdin);
  } catch (error) {
    writeError = error;
    child.stdin.destroy();
  }
  if (writeError instanceof TbuildError) {
    child.kill();
    throw writeError;
  }
  const { code, error } = await exited;
  if (error) {
    const why =
      error.code === 'ENOENT'
        ? 'the docker CLI is not installed (not found on PATH)'
        : error.message;
    throw new TbuildError('TBUILD_DOCKER_LOAD', `--load: cannot run docker: ${why}`, {
      hint: DOCKER_LOAD_HINT,
    });
  }
  if (code !== 0) {
    const said = stderr.trim();
    throw new TbuildError(
      'TBUILD_DOCKER_LOAD',
      `--load: docker load failed (exit ${code})${said ? `: ${said}` : ''}`,
      { hint: DOCKER_LOAD_HINT },
    );
  }
  if (writeError !== undefined) throw writeError;
}
