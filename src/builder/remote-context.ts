/**
 * Build contexts that are not a local directory, read as `docker build` reads them:
 * - `-`: standard input;
 * - a git repository (`https://host/repo.git#ref:dir`, `git://…`, `git@host:…`): a shallow
 *   checkout of the ref (default HEAD), the subdirectory as the context, without `.git`;
 * - any other `http(s)://` URL: a download.
 * A tar archive (plain, gzip, bzip2 or xz) from stdin or a URL is the context, with the
 * Dockerfile inside it; anything else is a Dockerfile, built with an empty context.
 * All of it lands in a private temp directory that dispose() removes.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { extractArchive, isArchive } from '../engine/file/unpack.ts';
import { checkoutGit } from '../engine/ops/git.ts';
import { InputError, UsageError } from '../shared/errors.ts';
import { isGitUrl, parseGitUrl } from '../shared/git-url.ts';

export interface RemoteContext {
  /** The context directory (private, removed by dispose). */
  dir: string;
  /** The Dockerfile when the input was one rather than an archive or a repository. */
  dockerfileText: string | undefined;
  dispose(): Promise<void>;
}

/** Whether the context argument names something other than a local directory. */
export function isRemoteContext(arg: string): boolean {
  return arg === '-' || isGitUrl(arg) || /^https?:\/\//i.test(arg);
}

export async function fetchRemoteContext(arg: string, stdin?: Readable): Promise<RemoteContext> {
  if (arg === '-' && stdin === undefined)
    throw new UsageError('the build context is "-", but this build has no standard input', {
      hint: 'Give a directory or a URL, or pass stdin to the build.',
    });
  const base = await mkdtemp(path.join(tmpdir(), 'tbuild-context-'));
  const dispose = () => rm(base, { recursive: true, force: true });
  try {
    const dir = path.join(base, 'context');
    await mkdir(dir);
    if (isGitUrl(arg)) return { dir: await fromGit(arg, dir), dockerfileText: undefined, dispose };
    const received = path.join(base, 'input');
    const input = arg === '-' ? stdin! : await download(arg);
    await pipeline(input, createWriteStream(received, { mode: 0o600 }));
    if (await isArchive(received)) {
      await extractArchive(received, dir);
      await rm(received);
      return { dir, dockerfileText: undefined, dispose };
    }
    return { dir, dockerfileText: await readFile(received, 'utf8'), dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

async function fromGit(url: string, dir: string): Promise<string> {
  const { remote, ref, subdir } = parseGitUrl(url);
  await checkoutGit(remote, ref, dir);
  // BuildKit leaves .git out of a git context (unless BUILDKIT_CONTEXT_KEEP_GIT_DIR).
  await rm(path.join(dir, '.git'), { recursive: true, force: true });
  if (subdir === undefined) return dir;
  const inside = await realpath(path.join(dir, subdir)).catch(() => undefined);
  const isDir = inside !== undefined && (await stat(inside)).isDirectory();
  if (!isDir || !(inside + '/').startsWith((await realpath(dir)) + '/'))
    throw new InputError(`${subdir} is not a directory in ${remote}`, {
      hint: 'Name an existing directory after the ref: <repo>#<ref>:<directory>.',
    });
  return inside;
}

async function download(url: string): Promise<Readable> {
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'follow' });
  } catch (error) {
    throw new InputError(
      `unable to download the build context ${url}: ${(error as Error).message}`,
      {
        hint: 'Check the URL and that this machine can reach it (proxies: HTTP_PROXY/HTTPS_PROXY).',
        cause: error,
      },
    );
  }
  if (!response.ok || response.body === null)
    throw new InputError(`unable to download the build context ${url}: HTTP ${response.status}`, {
      hint: 'Check the URL.',
    });
  return Readable.fromWeb(response.body as WebReadableStream);
}
