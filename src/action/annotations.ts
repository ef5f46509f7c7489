/**
 * A failed build as GitHub shows it: an `::error` annotation on the Dockerfile lines the
 * error points at, the file named relative to the repository so it lands in the diff.
 */
import path from 'node:path';
import { isTbuildError, type SourceLocation } from '../shared/errors.ts';
import { isGitUrl, parseGitUrl } from '../shared/git-url.ts';
import type { Inputs } from './inputs.ts';
import { command, type ActionIO } from './runner.ts';

export interface AnnotationTarget {
  /** How the builder names the Dockerfile in error locations. */
  dockerfileName: string;
  /** Its path in the repository (relative to GITHUB_WORKSPACE), if it is in it. */
  repoPath: string | undefined;
}

/**
 * Where the build's Dockerfile is in the repository: for a local context relative to the
 * workspace; for the default Git context (this repository) inside its subdirectory.
 */
export function annotationTarget(
  inputs: Pick<Inputs, 'file'>,
  context: string,
  defaultContext: string,
  workspace: string,
  cwd: string,
): AnnotationTarget {
  const given = inputs.file || undefined;
  if (isGitUrl(context)) {
    const ours = context.split('#')[0] === defaultContext.split('#')[0];
    const subdir = parseGitUrl(context).subdir ?? '';
    const inRepo = path.posix.normalize(path.posix.join(subdir, given ?? 'Dockerfile'));
    return { dockerfileName: given ?? 'Dockerfile', repoPath: ours ? inRepo : undefined };
  }
  const contextDir = path.resolve(cwd, context);
  const file = given ? path.resolve(cwd, given) : path.join(contextDir, 'Dockerfile');
  const rel = path.relative(workspace, file);
  const repoPath =
    rel.startsWith('..') || path.isAbsolute(rel) ? undefined : rel.split(path.sep).join('/');
  return { dockerfileName: given ?? path.relative(contextDir, file), repoPath };
}

/** The annotation `file` for a location in the build's Dockerfile. */
export function fileFor(
  target: AnnotationTarget,
  location: SourceLocation | undefined,
): string | undefined {
  if (!location?.range) return undefined;
  if (location.file !== undefined && location.file !== target.dockerfileName) return undefined;
  return target.repoPath;
}

/** `::error file=…,line=N,endLine=M,title=…::message` for a failed build. */
export function annotateFailure(io: ActionIO, error: unknown, target: AnnotationTarget): void {
  if (!isTbuildError(error)) {
    const err = error instanceof Error ? error : new Error(String(error));
    command(io, 'error', { title: 'tbuild failed (internal error)' }, err.stack ?? err.message);
    return;
  }
  const range = error.location?.range;
  const file = fileFor(target, error.location);
  const message = error.hint ? `${error.message}\nhint: ${error.hint}` : error.message;
  command(
    io,
    'error',
    {
      file,
      line: file ? range?.start : undefined,
      endLine: file ? range?.end : undefined,
      title: titleOf(error.code),
    },
    message,
  );
}

function titleOf(code: string): string {
  if (code === 'TBUILD_ACTION_INPUT') return 'tbuild: invalid input';
  if (code === 'TBUILD_MISSING_DEPENDENCIES' || code === 'TBUILD_ACTION_SETUP')
    return 'tbuild: runner setup failed';
  if (code === 'TBUILD_CANCELLED') return 'tbuild: build cancelled';
  return 'tbuild: build failed';
}
