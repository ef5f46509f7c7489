/** Path helpers: Dockerfile paths are POSIX and relative ones are taken from WORKDIR. */
import { posix } from 'node:path';
import type { StageContext } from './build-context.ts';

/** The stage's working directory (`/` when unset). */
export function stageWorkdir(ctx: StageContext): string {
  return ctx.image.config.WorkingDir || '/';
}

/** Resolve `path` against `workdir`, keeping a trailing slash (it means "a directory"). */
export function joinWorkdir(workdir: string, path: string): string {
  const joined = posix.isAbsolute(path) ? posix.normalize(path) : posix.join('/', workdir, path);
  const cleaned = joined.length > 1 ? joined.replace(/\/+$/, '') : joined;
  return path.endsWith('/') && cleaned !== '/' ? `${cleaned}/` : cleaned;
}
