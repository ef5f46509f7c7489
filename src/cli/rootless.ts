/**
 * The CLI's rootless front door (ADR 17): a command run by an ordinary user that needs
 * mounts and runc runs again inside a user namespace where the user is root.
 */
import { accessSync, constants } from 'node:fs';
import { ROOTLESS_ENV, ROOTLESS_NETWORK_ENV } from '../shared/userns.ts';

/** Commands that need no namespace: they read no store and run no container. */
const OUTSIDE = new Set([
  'doctor',
  'version',
  'completion',
  'parse',
  'login',
  'logout',
  'help',
  '--help',
  '-h',
  '--version',
  '--get-yargs-completions',
]);

/** Commands that run no RUN step (a build, a watch, or `tbuild CONTEXT` may). */
const RUNS_NOTHING = new Set([
  'check',
  'du',
  'history',
  'images',
  'import',
  'inspect',
  'load',
  'prune',
  'pull',
  'push',
  'rm',
  'save',
  'tag',
  'unshare',
]);

/**
 * Whether this invocation (argv with global flags hoisted behind the command) must run
 * in a user namespace: not root, not in one already, and a command that needs it.
 */
export function needsUserNamespace(
  argv: readonly string[],
  uid: number = process.getuid?.() ?? 0,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (uid === 0 || env[ROOTLESS_ENV] === '1') return false;
  const first = argv[0];
  if (first === undefined || OUTSIDE.has(first)) return false;
  return !argv.includes('--help') && !argv.includes('-h');
}

/**
 * Run this CLI again, with the same node flags and arguments, inside a user namespace.
 * Returns its exit status; warns on stderr when only one id can be mapped.
 */
export async function reexecInUserNamespace(given: readonly string[]): Promise<number> {
  const { planForCurrentUser, runInUserNamespace } = await import('../rootless/index.ts');
  const plan = await planForCurrentUser();
  if (plan.singleId) {
    process.stderr.write(
      'WARNING: no subordinate ids for this user in /etc/subuid and /etc/subgid: only your own id is mapped, so `chown` to other ids in RUN will fail and images with files of other owners cannot be used.\n' +
        '  hint: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 "$USER"\n',
    );
  }
  const hostNetwork = !canOpenTun();
  if (hostNetwork && !RUNS_NOTHING.has(given[0] ?? '')) {
    process.stderr.write(
      'WARNING: /dev/net/tun cannot be opened by this user, so slirp4netns cannot give RUN its own network: RUN steps share your network (services on 127.0.0.1 are reachable from them).\n' +
        '  hint: make /dev/net/tun read-write for everyone, as udev does (sudo chmod 0666 /dev/net/tun), or build with --network=none.\n',
    );
  }
  const script = process.argv[1];
  const args = [...process.execArgv, ...(script === undefined ? [] : [script]), ...given];
  return runInUserNamespace(plan, {
    command: process.execPath,
    args,
    env: {
      ...process.env,
      [ROOTLESS_ENV]: '1',
      ...(hostNetwork ? { [ROOTLESS_NETWORK_ENV]: 'host' } : {}),
    },
  });
}

/** Whether this user may open the TUN device that slirp4netns needs. */
function canOpenTun(): boolean {
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
