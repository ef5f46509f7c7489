/** ADD <git repository>: the key is the commit the ref points at. */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { GitSource } from '../../llb/types.ts';
import { digestOf } from '../../shared/digest.ts';
import type { OpHandler } from '../../solver/types.ts';
import { SourceFetchError } from '../errors.ts';
import type { EngineOptions, Ref } from '../types.ts';

const run = promisify(execFile);

async function git(args: string[], signal?: AbortSignal, cwd?: string): Promise<string> {
  try {
    const { stdout } = await run('git', args, {
      signal,
      cwd,
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
      maxBuffer: 16 << 20,
    });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim() ?? String(error);
    throw new SourceFetchError(`git ${args[0]} failed: ${stderr}`, {
      cause: error,
      hint: 'Check the repository URL and that this machine can reach it.',
    });
  }
}

/** Check out `ref` (a branch, tag or commit; HEAD when undefined) of `remote` into `dir`, shallow. */
export async function checkoutGit(
  remote: string,
  ref: string | undefined,
  dir: string,
  signal?: AbortSignal,
): Promise<void> {
  await git(['init', '-q', dir], signal);
  await git(['fetch', '-q', '--depth', '1', remote, ref ?? 'HEAD'], signal, dir);
  await git(['checkout', '-q', 'FETCH_HEAD'], signal, dir);
}

export function gitSourceHandler(engine: EngineOptions, source: GitSource): OpHandler<Ref> {
  let commit: Promise<string> | undefined;
  // A full commit id names itself (ls-remote lists refs, not commits).
  const pinned = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(source.ref ?? '') ? source.ref : undefined;
  const resolveCommit = (signal: AbortSignal) =>
    (commit ??= pinned
      ? Promise.resolve(pinned)
      : git(['ls-remote', source.remote, source.ref ?? 'HEAD'], signal).then((out) => {
          const sha = out.split(/\s/)[0];
          if (!sha)
            throw new SourceFetchError(
              `git ref ${source.ref ?? 'HEAD'} not found in ${source.remote}`,
              { hint: 'Check the branch or tag name.' },
            );
          return sha;
        }));
  return {
    async cacheMap(ctx) {
      return {
        digest: digestOf({
          git: source.remote,
          commit: await resolveCommit(ctx.signal),
          subdir: source.subdir ?? '',
          keepGitDir: !!source.keepGitDir,
        }),
      };
    },
    async exec(ctx) {
      const sha = await resolveCommit(ctx.signal);
      const snapshot = await engine.store.snapshots.create(null, `git ${source.remote}`);
      try {
        await checkoutGit(source.remote, sha, snapshot.dir, ctx.signal);
        if (!source.keepGitDir)
          await rm(path.join(snapshot.dir, '.git'), { recursive: true, force: true });
        const committed = await engine.store.snapshots.commit(snapshot.id);
        return [{ kind: 'snapshot', id: committed.id }];
      } catch (error) {
        await engine.store.snapshots.remove(snapshot.id);
        throw error;
      }
    },
  };
}
