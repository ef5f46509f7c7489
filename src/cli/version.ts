/**
 * `tbuild --version`: name, version and commit, as `docker buildx version` prints them
 * (`github.com/docker/buildx v0.29.1 a32761a…`). An installed package knows its commit from
 * `lib/build-info.json`, written when it was compiled (scripts/write-build-info.ts); a
 * checkout that runs the sources reads git.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface VersionInfo {
  name: string;
  version: string;
  /** The commit the code was compiled from; `.m` marks uncommitted changes, as buildx does. */
  commit: string;
}

/** The generated file beside the compiled modules (lib/build-info.json). */
const BUILD_INFO = new URL('../build-info.json', import.meta.url);
const PACKAGE_JSON = new URL('../../package.json', import.meta.url);

export async function readVersionInfo(): Promise<VersionInfo> {
  const pkg = JSON.parse(await readFile(PACKAGE_JSON, 'utf8')) as { name: string; version: string };
  const built = await readFile(BUILD_INFO, 'utf8').then(
    (text) => (JSON.parse(text) as { commit?: string }).commit,
    () => undefined,
  );
  const commit =
    built ?? (await gitCommit(fileURLToPath(new URL('../..', import.meta.url)))) ?? 'unknown';
  return { name: pkg.name, version: pkg.version, commit };
}

export function formatVersion(info: VersionInfo): string {
  return `${info.name} v${info.version} ${info.commit}`;
}

/**
 * The commit checked out in `dir`, with `.m` when tracked files are modified; undefined
 * outside a git checkout or without git.
 */
export async function gitCommit(dir: string): Promise<string | undefined> {
  try {
    const head = (await run('git', ['-C', dir, 'rev-parse', 'HEAD'])).stdout.trim();
    const status = (await run('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no']))
      .stdout;
    return status.trim() === '' ? head : `${head}.m`;
  } catch {
    // Not a checkout (an unpacked package) or no git: the caller says "unknown".
    return undefined;
  }
}
