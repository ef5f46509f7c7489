/**
 * Root for the build. The runner starts the Action as its own user (uid 1001 on hosted
 * runners), but overlay mounts and runc need root. So the Action runs itself again under
 * `sudo -n -E` (hosted runners allow the runner user passwordless sudo) and waits for it:
 * one process tree, the same stdout (so workflow commands reach the runner), the same
 * environment (inputs, GITHUB_* files, ACTIONS_* tokens), and signals passed on so that a
 * cancelled job stops the build. Running as root also sidesteps Ubuntu 24.04's AppArmor
 * restriction on unprivileged user namespaces: tbuild creates none for itself, and
 * namespaces that root's runc creates are not restricted.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { RunnerSetupError } from './errors.ts';
import type { ActionIO } from './runner.ts';

/** Set in the elevated process, so that a sudo that did not make it root cannot loop. */
const ELEVATED = 'TBUILD_ACTION_ELEVATED';

/** Directories of system tools (runc is in /usr/sbin on Debian) that sudo's secure_path has. */
const SYSTEM_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** `sudo -n true`: fails fast, with sudo's reason, where the runner user may not sudo. */
async function checkSudo(): Promise<void> {
  const reason = await new Promise<string | undefined>((resolve) => {
    const child = spawn('sudo', ['-n', 'true'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (error) => resolve(`cannot run sudo: ${error.message}`));
    child.on('close', (code) => resolve(code === 0 ? undefined : stderr.trim() || `exit ${code}`));
  });
  if (reason !== undefined)
    throw new RunnerSetupError(`tbuild needs root, and sudo -n failed: ${reason}`, {
      hint: 'Give the runner user passwordless sudo (hosted runners have it), or run the job as root (a container job).',
    });
}

/** The environment changes the elevated process needs beyond what `sudo -E` keeps. */
export function elevatedEnv(env: ActionIO['env']): Record<string, string> {
  const dirs = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const home = env.HOME ?? '';
  return {
    // sudo replaces PATH with secure_path; keep the runner's, with the system directories.
    PATH: [...dirs, ...SYSTEM_PATH.filter((d) => !dirs.includes(d))].join(path.delimiter),
    // docker/login-action wrote the runner user's config; root must read the same one.
    ...(env.DOCKER_CONFIG || !home ? {} : { DOCKER_CONFIG: path.join(home, '.docker') }),
    [ELEVATED]: '1',
  };
}

/**
 * Run `script` again as root, when this process is not root. Returns its exit status, or
 * undefined when this process is root already and should build itself.
 */
export async function runAsRoot(io: ActionIO, script: string): Promise<number | undefined> {
  if (io.uid === 0) return undefined;
  if (io.env[ELEVATED])
    throw new RunnerSetupError('sudo did not make the Action root', {
      hint: 'Check the runner\'s sudoers: the runner user needs passwordless sudo ("NOPASSWD: ALL").',
    });
  await checkSudo();
  const args = [
    '-n',
    '-E',
    '--',
    'env',
    ...Object.entries(elevatedEnv(io.env)).map(([k, v]) => `${k}=${v}`),
    process.execPath,
    script,
  ];
  const child = spawn('sudo', args, { stdio: ['ignore', 'inherit', 'inherit'] });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.on('error', (error) =>
        reject(
          new RunnerSetupError(`tbuild needs root and could not run sudo: ${error.message}`, {
            hint: 'Run the job as root (a container job) or install sudo and allow the runner user passwordless sudo.',
            cause: error,
          }),
        ),
      );
      child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
