/**
 * The two builders under test, invoked the way a user would: tbuild's compiled CLI
 * (`node bin/tbuild.js`) and Docker 20.10's BuildKit (`DOCKER_BUILDKIT=1 docker build`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { timeCommand } from './measure.ts';
import type { CommandResult } from './measure.ts';

export type Tool = 'tbuild' | 'buildkit';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TBUILD_BIN = path.join(REPO_ROOT, 'bin/tbuild.js');

/** Debian's docker 20.10 client: a newer client on PATH would route builds through buildx. */
export const DOCKER = process.env.DOCKER ?? '/usr/bin/docker';

const DOCKER_ENV = { DOCKER_BUILDKIT: '1', BUILDKIT_PROGRESS: 'plain' };

/**
 * Node's flags on bin/tbuild.js's `#!` line, which running the file as `tbuild` applies:
 * the bench runs this Node (24) on it with the same flags.
 */
const NODE_FLAGS = (() => {
  const shebang = readFileSync(TBUILD_BIN, 'utf8').split('\n', 1)[0]!;
  const words = shebang.replace(/^#!\S*env\s+(-S\s+)?/, '').split(/\s+/);
  return words.slice(1).filter((w) => w.startsWith('--'));
})();

/** The highest peak RSS of tbuild runs since the last takePeakRss(), in kilobytes. */
let peakRssKb = 0;

/** The highest peak RSS of the tbuild runs since the last call (MB), and start again. */
export function takePeakRss(): number | undefined {
  const kb = peakRssKb;
  peakRssKb = 0;
  return kb > 0 ? Math.round(kb / 1024) : undefined;
}

/** Run `tbuild args…` against the store at `root`. */
export async function runTbuild(root: string, args: readonly string[]): Promise<CommandResult> {
  const [command, ...rest] = args;
  const result = await timeCommand(
    process.execPath,
    [...NODE_FLAGS, TBUILD_BIN, command!, '--root', root, ...rest],
    { peakRss: true },
  );
  peakRssKb = Math.max(peakRssKb, result.peakRssKb ?? 0);
  return result;
}

/** `tbuild build --root ROOT --progress plain …extra CONTEXT`. */
export function buildWithTbuild(
  root: string,
  context: string,
  extra: readonly string[] = [],
): Promise<CommandResult> {
  return runTbuild(root, ['build', '--progress', 'plain', ...extra, context]);
}

/** `DOCKER_BUILDKIT=1 docker build --network=host …extra CONTEXT`. */
export function buildWithBuildkit(
  context: string,
  extra: readonly string[] = [],
): Promise<CommandResult> {
  return timeCommand(DOCKER, ['build', '--network=host', '--progress=plain', ...extra, context], {
    env: DOCKER_ENV,
  });
}

/** Any docker command (save, push, tag, rmi…). */
export function runDocker(args: readonly string[]): Promise<CommandResult> {
  return timeCommand(DOCKER, args, { env: DOCKER_ENV });
}

/** Whether a Docker daemon answers, and why not when it does not. */
export async function probeDocker(): Promise<
  { ok: true; version: string } | { ok: false; why: string }
> {
  if (process.env.BENCH_NO_DOCKER === '1') return { ok: false, why: 'BENCH_NO_DOCKER=1' };
  try {
    const { stdout } = await runDocker(['info', '--format', '{{.ServerVersion}}']);
    return { ok: true, version: stdout.trim() };
  } catch (error) {
    return { ok: false, why: (error as Error).message.split('\n').slice(0, 3).join(' ') };
  }
}
