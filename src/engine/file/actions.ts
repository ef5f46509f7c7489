/**
 * Apply a FileOp's actions to a destination root (the merged overlay mount of the new
 * layer), in order. Sources of copies are other host directories (the build context, or
 * read-only mounts of other stages' snapshots).
 */
import { chmod, lchown, lstat, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FileAction } from '../../llb/types.ts';
import {
  copyAction,
  mkdirAllOwned,
  resolveWildcards,
  type CopyContext,
  type SourceRoot,
} from './copy.ts';
import { FileOpError } from './errors.ts';
import { hasWildcard } from './glob.ts';
import { resolveOwner } from './owner.ts';
import { cleanPath, resolveInRoot } from './paths.ts';

export type { CopyContext, SourceRoot };

/**
 * Apply `actions` to `ctx.dest`. `sources[i]` is the host root of the vertex's input i
 * (null when that input is empty).
 */
export async function applyFileActions(
  ctx: CopyContext,
  sources: ReadonlyArray<SourceRoot | null>,
  actions: readonly FileAction[],
  emptyDir: () => Promise<string>,
): Promise<void> {
  for (const action of actions) {
    ctx.signal?.throwIfAborted();
    const owner = 'chown' in action ? await resolveOwner(ctx.dest, action.chown) : undefined;
    switch (action.action) {
      case 'copy': {
        const source = action.source === null ? null : sources[action.source];
        await copyAction(ctx, source ?? { root: await emptyDir() }, action, owner);
        break;
      }
      case 'mkdir': {
        const target = await resolveInRoot(ctx.dest, action.path, true);
        const st = await lstat(target).catch(() => undefined);
        if (st?.isDirectory()) break;
        if (st)
          throw new FileOpError(
            'TBUILD_MKDIR',
            `cannot create directory ${action.path}: a file exists there`,
          );
        if (!action.makeParents && !(await lstat(path.dirname(target)).catch(() => undefined))) {
          throw new FileOpError(
            'TBUILD_MKDIR',
            `cannot create directory ${action.path}: parent does not exist`,
          );
        }
        await mkdirAllOwned(ctx.dest, target, owner, action.mode);
        break;
      }
      case 'mkfile': {
        const target = await resolveInRoot(ctx.dest, action.path, true);
        await mkdirAllOwned(ctx.dest, path.dirname(target), undefined);
        await rm(target, { force: true });
        await writeFile(target, action.data);
        await chmod(target, action.mode);
        await lchown(target, owner?.uid ?? 0, owner?.gid ?? 0);
        break;
      }
      case 'rm': {
        const paths =
          action.allowWildcard && hasWildcard(action.path)
            ? await resolveWildcards(ctx.dest, cleanPath(action.path))
            : [action.path];
        for (const p of paths) {
          const target = await resolveInRoot(ctx.dest, p, false);
          const exists = await lstat(target).catch(() => undefined);
          if (!exists && !action.allowNotFound)
            throw new FileOpError('TBUILD_RM', `cannot remove ${p}: not found`);
          await rm(target, { recursive: true, force: true });
        }
        break;
      }
      case 'symlink': {
        const target = await resolveInRoot(ctx.dest, action.path, false);
        await mkdirAllOwned(ctx.dest, path.dirname(target), undefined);
        await rm(target, { force: true });
        await symlink(action.target, target);
        break;
      }
    }
  }
}
