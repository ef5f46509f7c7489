/**
 * COPY, ADD, WORKDIR and heredoc files: a file op writes through a writable overlay of
 * its base, so whiteouts, symlinks and parent permissions behave as in the image. A file
 * op on an empty base writes straight into the new snapshot's directory.
 */
import type { FileOp } from '../../llb/types.ts';
import type { OpContext } from '../../solver/types.ts';
import { applyFileActions, type SourceRoot } from '../file/actions.ts';
import type { Scope } from '../mounts.ts';
import { writeNewSnapshot } from './new-snapshot.ts';
import type { EngineOptions, Ref } from '../types.ts';

export async function runFileOp(
  engine: EngineOptions,
  op: FileOp,
  inputs: readonly Ref[],
  ctx: OpContext,
  description: string,
): Promise<Ref[]> {
  const base: Ref = op.base === null ? { kind: 'empty' } : inputs[op.base]!;
  const used = new Set(
    op.actions.flatMap((a) => (a.action === 'copy' && a.source !== null ? [a.source] : [])),
  );
  return writeNewSnapshot(
    engine,
    base,
    description,
    async ({ path, scope }) => {
      const sources: Array<SourceRoot | null> = [];
      for (let i = 0; i < inputs.length; i++)
        sources.push(used.has(i) ? await sourceRoot(scope, inputs[i]!, ctx.signal) : null);
      await applyFileActions(
        { dest: path, tempDir: scope.tempDir, signal: ctx.signal },
        sources,
        op.actions,
        scope.tempDir,
      );
    },
    { direct: true },
  );
}

async function sourceRoot(scope: Scope, ref: Ref, signal: AbortSignal): Promise<SourceRoot | null> {
  if (ref.kind === 'empty') return null;
  if (ref.kind === 'local') {
    const { files } = await ref.context.snapshot(signal);
    // Build-context files are root-owned in images, whatever owns them on the host.
    return {
      root: ref.root,
      owner: { uid: 0, gid: 0 },
      visible: (rel) => rel === '' || files.has(rel),
    };
  }
  return { root: await scope.mountReadOnly(ref) };
}
