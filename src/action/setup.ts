/**
 * What the runner must have before a build: the doctor's required checks, and git for a
 * Git context. Missing Debian/Ubuntu packages are installed with apt-get (the Action runs
 * as root by then), and only when something is missing: hosted runners have runc (Docker's)
 * and the rest already, and apt-get update alone costs tens of seconds.
 */
import { spawn } from 'node:child_process';
import {
  CHECKS,
  currentHost,
  installCommand,
  packagesToInstall,
  runChecks,
  type CheckResult,
} from '../doctor/index.ts';
import { RunnerSetupError } from './errors.ts';
import { group, info, type ActionIO } from './runner.ts';

/** What a build needs beyond the required checks. */
export interface BuildNeeds {
  /** A Git context: git. */
  git: boolean;
  /** RUN's default (isolated) network: slirp4netns. */
  isolatedNetwork: boolean;
}

/** The packages this build lacks: every required check's, and those `needs` adds. */
export function missingPackages(results: readonly CheckResult[], needs: BuildNeeds): string[] {
  const required = new Set(CHECKS.filter((c) => c.level === 'required').map((c) => c.id));
  if (needs.git) required.add('git');
  if (needs.isolatedNetwork) required.add('slirp4netns');
  const wanted = results.filter((r) => r.status !== 'ok' && required.has(r.id));
  return packagesToInstall(wanted.map((r) => ({ ...r, status: 'fail' as const })));
}

export async function ensureHostPackages(io: ActionIO, needs: BuildNeeds): Promise<void> {
  const host = currentHost(io.env, io.uid);
  const packages = missingPackages(await runChecks(host), needs);
  if (packages.length === 0) return;
  if (!(await host.which('apt-get')))
    throw new RunnerSetupError(`this runner lacks ${packages.join(', ')} and has no apt-get`, {
      hint: `Install them before this step: ${await installCommand(packages, host)}`,
    });
  await group(io, `Installing ${packages.join(' ')} (apt-get)`, async () => {
    await apt(io, ['update', '-q']);
    await apt(io, ['install', '-y', '-q', '--no-install-recommends', ...packages]);
  });
  const still = missingPackages(await runChecks(host), needs);
  if (still.length)
    throw new RunnerSetupError(`${still.join(', ')} still missing after apt-get install`, {
      hint: 'Install them in an earlier step of the job.',
    });
}

function apt(io: ActionIO, args: string[]): Promise<void> {
  info(io, `apt-get ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn('apt-get', args, {
      env: { ...io.env, DEBIAN_FRONTEND: 'noninteractive' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => io.stdout.write(d.toString()));
    child.stderr.on('data', (d: Buffer) => io.stdout.write(d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new RunnerSetupError(`apt-get ${args[0]} failed (exit ${code})`)),
    );
  });
}
