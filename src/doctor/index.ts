/**
 * `tbuild doctor` and the check every build makes before it starts: run the host checks,
 * report what is missing once, with the command that installs it.
 */
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { which } from '../shared/which.ts';
import { CHECKS } from './checks.ts';
import { MissingDependenciesError } from './errors.ts';
import type { Check, CheckResult, HostContext } from './types.ts';

export type { Check, CheckResult, CheckStatus, HostContext } from './types.ts';
export { CHECKS } from './checks.ts';
export { MissingDependenciesError } from './errors.ts';

/** The host as this process sees it: its PATH and user. */
export function currentHost(
  env: Readonly<Record<string, string | undefined>> = process.env,
  uid: number = process.geteuid?.() ?? 0,
): HostContext {
  let userName: string | undefined;
  try {
    userName = userInfo().username;
  } catch {
    userName = undefined; // a uid without a passwd entry: subordinate ids are looked up by uid
  }
  return {
    env,
    uid,
    ...(userName === undefined ? {} : { userName }),
    readFile: (file) => readFile(file, 'utf8').catch(() => undefined),
    which: (program) => which(program, env.PATH ?? ''),
  };
}

export async function runChecks(
  host: HostContext = currentHost(),
  checks: readonly Check[] = CHECKS,
): Promise<CheckResult[]> {
  return Promise.all(checks.map((check) => check.run(host)));
}

/** Debian/Ubuntu packages that fix the results' failures (and warnings, with `all`). */
export function packagesToInstall(results: readonly CheckResult[], all = false): string[] {
  const wanted = results.filter((r) => r.status === 'fail' || (all && r.status === 'warn'));
  return [...new Set(wanted.flatMap((r) => r.packages ?? []))];
}

/** The exact command that installs `packages` on this host (sudo when not root). */
export async function installCommand(
  packages: readonly string[],
  host: HostContext = currentHost(),
): Promise<string | undefined> {
  if (packages.length === 0) return undefined;
  const sudo = host.uid === 0 ? '' : 'sudo ';
  const osRelease = (await host.readFile('/etc/os-release')) ?? '';
  const debianLike = /^(ID|ID_LIKE)=.*\b(debian|ubuntu)\b/m.test(osRelease);
  if (!debianLike) return `install these packages (Debian names): ${packages.join(' ')}`;
  return `${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

/**
 * Fail with one message naming everything a build lacks, before it runs anything: a
 * missing runc found at the first RUN would waste the steps before it.
 */
export async function assertBuildHost(host: HostContext = currentHost()): Promise<void> {
  const required = CHECKS.filter((c) => c.level === 'required');
  const failed = (await runChecks(host, required)).filter((r) => r.status === 'fail');
  if (failed.length === 0) return;
  const command = await installCommand(packagesToInstall(failed), host);
  const hints = failed.flatMap((r) => (r.hint ? [r.hint] : []));
  throw new MissingDependenciesError(
    `this machine cannot run builds: ${failed.map((r) => r.detail).join('; ')}`,
    [
      command ? `Install what is missing with \`${command}\`.` : undefined,
      ...hints,
      'Run `tbuild doctor` for details.',
    ]
      .filter(Boolean)
      .join(' '),
  );
}
