/**
 * Rootless builds (ADR 17): run a command in a new user and mount namespace where the user
 * is root, with the user's subordinate ids mapped behind it. Node cannot unshare itself (it
 * is multi-threaded), so `unshare(1)` makes the namespaces and a shell in them waits on a
 * gate (fd 3) until this process has written the id maps (newuidmap/newgidmap, which are
 * set-uid and check /etc/subuid and /etc/subgid), then executes the command.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import type { Socket } from 'node:net';
import { IdMapError, UserNamespaceError } from './errors.ts';
import { parseSubids, type SubidRange } from './subids.ts';

export { IdMapError, UserNamespaceError } from './errors.ts';
export { parseSubids, type SubidOwner, type SubidRange } from './subids.ts';

/** One map line: `inside outside count`. */
export type IdMapLine = readonly [inside: number, outside: number, count: number];

/** How the namespace's ids will be mapped. */
export interface UserNamespacePlan {
  uidMap: IdMapLine[];
  gidMap: IdMapLine[];
  /**
   * Only the user's own uid and gid are mapped (no subordinate ranges): `chown` to any
   * other id fails in RUN, and layers owned by other ids cannot be unpacked.
   */
  singleId: boolean;
}

/** Who runs the build, and the texts of /etc/subuid and /etc/subgid ('' when missing). */
export interface PlanInput {
  name: string;
  uid: number;
  gid: number;
  subuid: string;
  subgid: string;
}

/** root → the user, then each subordinate range on the next free inside ids. */
export function planUserNamespace(input: PlanInput): UserNamespacePlan {
  const uidRanges = parseSubids(input.subuid, { name: input.name, id: input.uid });
  const gidRanges = parseSubids(input.subgid, { name: input.name, id: input.uid });
  const singleId = uidRanges.length === 0 || gidRanges.length === 0;
  const lines = (own: number, ranges: SubidRange[]): IdMapLine[] => {
    const map: IdMapLine[] = [[0, own, 1]];
    let next = 1;
    for (const range of singleId ? [] : ranges) {
      map.push([next, range.start, range.count]);
      next += range.count;
    }
    return map;
  };
  return { uidMap: lines(input.uid, uidRanges), gidMap: lines(input.gid, gidRanges), singleId };
}

/** The plan for the user running this process, from /etc/subuid and /etc/subgid. */
export async function planForCurrentUser(): Promise<UserNamespacePlan> {
  const read = (file: string) => readFile(file, 'utf8').catch(() => '');
  const [subuid, subgid] = await Promise.all([read('/etc/subuid'), read('/etc/subgid')]);
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  let name = String(uid);
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry (a container's arbitrary uid): subuid lines may name the uid instead.
  }
  return planUserNamespace({ name, uid, gid, subuid, subgid });
}

/** What to run in the namespace, and how. */
export interface UserNamespaceRun {
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
}

/** The shell in the namespaces: say "ready" on fd 3, wait for "go", close it, exec. */
const GATE = 'printf r >&3 && read -r go <&3 && [ "$go" = go ] && exec 3>&- && exec "$@"';

/**
 * Run `run.command` in a new user and mount namespace mapped by `plan`, with the caller's
 * stdio. Resolves with its exit status (128 + n when killed by signal n).
 */
export async function runInUserNamespace(
  plan: UserNamespacePlan,
  run: UserNamespaceRun,
): Promise<number> {
  const child = spawn(
    'unshare',
    ['--user', '--mount', '--', '/bin/sh', '-c', GATE, 'tbuild-userns', run.command, ...run.args],
    { stdio: ['inherit', 'inherit', 'inherit', 'pipe'], env: run.env },
  );
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new UserNamespaceError('unshare(1) is not installed (Debian package util-linux)')
          : err,
      ),
    );
    child.on('close', (code, signal) =>
      resolve(code ?? 128 + (signal ? (osSignals[signal] ?? 0) : 0)),
    );
  });
  const gate = child.stdio[3] as Socket;
  const ready = await Promise.race([waitForByte(gate), exited.then(() => false)]);
  if (!ready) {
    await exited;
    throw new UserNamespaceError(
      `unshare --user exited before the namespace was ready (status ${child.exitCode ?? child.signalCode})`,
    );
  }
  try {
    await writeIdMaps(child.pid!, plan);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
  gate.end('go\n');
  return forwardSignals(child, exited);
}

const osSignals: Partial<Record<NodeJS.Signals, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGKILL: 9,
  SIGTERM: 15,
};

function waitForByte(gate: Socket): Promise<boolean> {
  return new Promise((resolve) => {
    gate.once('data', () => resolve(true));
    gate.once('end', () => resolve(false));
    gate.once('error', () => resolve(false));
  });
}

/** newuidmap/newgidmap for subordinate ranges; the single-id map is ours to write. */
async function writeIdMaps(pid: number, plan: UserNamespacePlan): Promise<void> {
  if (plan.singleId) {
    const write = (file: string, text: string) =>
      writeFile(`/proc/${pid}/${file}`, text).catch((err: Error) => {
        throw new IdMapError(`writing /proc/${pid}/${file}: ${err.message}`, { cause: err });
      });
    // An unprivileged map of one's own gid needs setgroups denied first (user_namespaces(7)).
    await write('setgroups', 'deny');
    await write('uid_map', formatMap(plan.uidMap));
    await write('gid_map', formatMap(plan.gidMap));
    return;
  }
  await runIdMapTool('newuidmap', pid, plan.uidMap);
  await runIdMapTool('newgidmap', pid, plan.gidMap);
}

function formatMap(map: readonly IdMapLine[]): string {
  return map.map((line) => line.join(' ')).join('\n') + '\n';
}

function runIdMapTool(tool: string, pid: number, map: readonly IdMapLine[]): Promise<void> {
  const args = [String(pid), ...map.flatMap((line) => line.map(String))];
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        new IdMapError(
          err.code === 'ENOENT' ? `${tool} is not installed (Debian package uidmap)` : err.message,
          { cause: err },
        ),
      ),
    );
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new IdMapError(`${tool} ${args.join(' ')} failed: ${stderr.trim()}`));
    });
  });
}

/**
 * Wait for the child, passing on the signals sent to this process. SIGINT goes on as
 * SIGTERM, which tbuild handles the same way: a terminal's Ctrl-C also reaches the child
 * directly (one process group), and a second SIGINT would kill it before it cleans up.
 */
async function forwardSignals(child: ChildProcess, exited: Promise<number>): Promise<number> {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const handlers = signals.map((signal) => {
    const handler = () => void child.kill(signal === 'SIGINT' ? 'SIGTERM' : signal);
    process.on(signal, handler);
    return () => process.off(signal, handler);
  });
  try {
    return await exited;
  } finally {
    for (const remove of handlers) remove();
  }
}
