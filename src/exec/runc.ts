/**
 * The runc executor: one `runc run` per RUN step, in a throw-away bundle directory.
 * Layout under stateDir: `runc/` is runc's --root (container state), `bundles/<id>/`
 * holds config.json, the files bind-mounted as /etc/hosts etc., and runc's log.
 */
import { withEmulation } from './emulation-spec.ts';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { CancelledError } from '../shared/errors.ts';
import { inUserNamespace, rootlessHostNetwork } from '../shared/userns.ts';
import { delay, runCommand, signalNumber } from './command.ts';
import {
  ContainerStartError,
  MountError,
  RuncNotFoundError,
  SetprivNotFoundError,
} from './errors.ts';
import { spawnSupervisedRunc } from './supervisor.ts';
import { which } from '../shared/which.ts';
import { createNetworkPool, isolatedResolvConf, type NetworkLease } from './network.ts';
import {
  createMounts,
  createOciSpec,
  DEFAULT_NOFILE,
  listStubRequests,
  type BundleFiles,
  type HostLimits,
} from './spec.ts';
import { adaptSpecToUserNamespace } from './rootless.ts';
import { createMountStubs, type MountStubs } from './stubs.ts';
import type { Executor, RunResult, RunSpec } from './types.ts';
import { resolveInRoot } from './user.ts';

export interface RuncExecutorOptions {
  /** Folder for runc state and bundles (e.g. `<store>/exec`). */
  stateDir: string;
  /** The runc binary; default `runc` from PATH. */
  runcPath?: string;
  /** The slirp4netns binary for isolated runs; default `slirp4netns` from PATH. */
  slirp4netnsPath?: string;
}

/** BuildKit's sandbox hostname: build scripts sometimes test for it. */
export const DEFAULT_HOSTNAME = 'buildkitsandbox';

type IO = Parameters<Executor['run']>[1];

interface Prepared {
  id: string;
  bundle: string;
  stubs: MountStubs;
}

/** Create an Executor that runs each process with runc. */
export function createRuncExecutor(options: RuncExecutorOptions): Executor {
  const runc = options.runcPath ?? 'runc';
  // The supervisor needs runc's path; looked up once, and again after a failure.
  let runcFound: Promise<string> | undefined;
  const findRunc = () =>
    (runcFound ??= which(runc, process.env.PATH ?? '').then((found) => {
      if (found !== undefined) return found;
      runcFound = undefined;
      throw new RuncNotFoundError(runc);
    }));
  const runcRoot = path.join(options.stateDir, 'runc');
  const networks = createNetworkPool(
    options.slirp4netnsPath !== undefined ? { slirp4netnsPath: options.slirp4netnsPath } : {},
  );
  return {
    async run(given, io, signal) {
      if (signal.aborted) throw new CancelledError();
      // A rootless build whose user cannot open /dev/net/tun shares the user's network.
      const spec: typeof given =
        given.network === 'isolated' && rootlessHostNetwork()
          ? { ...given, network: 'host' }
          : given;
      const runcPath = await findRunc();
      const network = spec.network === 'isolated' ? await networks.acquire() : undefined;
      try {
        const prepared = await prepareBundle(options.stateDir, spec, network);
        let result: RunResult | undefined;
        try {
          const exitCode = await runContainer(runcPath, runcRoot, prepared, spec, io, signal);
          result = { exitCode, createdPaths: prepared.stubs.created };
        } finally {
          // Cleanup errors must not hide the run's own error, and every step must run.
          const cleanup = await cleanUpRun(runc, runcRoot, prepared);
          if (result !== undefined && cleanup !== undefined) throw cleanup;
        }
        return result;
      } finally {
        network?.release();
      }
    },
    warm(network) {
      if (network === 'isolated' && !rootlessHostNetwork()) networks.warm();
    },
    close: () => networks.close(),
  };
}

/** Delete the container, its bundle and the mount stubs; returns the first failure. */
async function cleanUpRun(runc: string, runcRoot: string, prepared: Prepared) {
  const steps = [
    () => deleteContainer(runc, runcRoot, prepared.id),
    // A few small files: removed synchronously, quicker than a thread-pool round trip each.
    () => rmSync(prepared.bundle, { recursive: true, force: true }),
    () => prepared.stubs.remove(),
  ];
  let first: unknown;
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      first ??= err;
    }
  }
  return first;
}

/** A container id that names its owner process, so stale ones can be recognised. */
function createContainerId(): string {
  return `tbuild-${process.pid}-${randomBytes(6).toString('hex')}`;
}

async function prepareBundle(
  stateDir: string,
  spec: RunSpec,
  network: NetworkLease | undefined,
): Promise<Prepared> {
  const id = createContainerId();
  const bundle = path.join(stateDir, 'bundles', id);
  // The bundle's few small files are written synchronously (ADR 20): microseconds each,
  // where a thread-pool round trip costs tens.
  mkdirSync(bundle, { recursive: true });
  try {
    const hostname = spec.hostname ?? DEFAULT_HOSTNAME;
    const files = writeBundleFiles(bundle, spec, hostname);
    const kinds = statBindSources(spec);
    const limits = await readHostLimits();
    const mounts = createMounts(spec, files);
    for (const file of Object.values(files)) kinds.set(file, 'file');
    const stubs = await createMountStubs(spec.rootfs, listStubRequests(mounts, kinds));
    try {
      // Like BuildKit, a missing working directory is created and stays in the layer.
      mkdirSync(await resolveInRoot(spec.rootfs, spec.process.cwd), {
        recursive: true,
        mode: 0o755,
      });
      const emulated = withEmulation(
        createOciSpec(spec, mounts, hostname, limits, network?.path),
        spec.emulation,
      );
      const config = inUserNamespace() ? adaptSpecToUserNamespace(emulated) : emulated;
      writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config, null, 2));
    } catch (err) {
      await stubs.remove();
      throw err;
    }
    return { id, bundle, stubs };
  } catch (err) {
    await rm(bundle, { recursive: true, force: true });
    throw err;
  }
}

function writeBundleFiles(bundle: string, spec: RunSpec, hostname: string): BundleFiles {
  const files: BundleFiles = {
    hosts: path.join(bundle, 'hosts'),
    resolvConf: path.join(bundle, 'resolv.conf'),
    hostname: path.join(bundle, 'hostname'),
  };
  const hosts =
    spec.hosts ?? `127.0.0.1\tlocalhost ${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`;
  const resolvConf =
    spec.resolvConf ??
    (spec.network === 'isolated' ? isolatedResolvConf(readHostResolvConf()) : readHostResolvConf());
  writeFileSync(files.hosts, hosts, { mode: 0o644 });
  writeFileSync(files.resolvConf, resolvConf, { mode: 0o644 });
  writeFileSync(files.hostname, `${hostname}\n`, { mode: 0o644 });
  return files;
}

/** tbuild's own open-file hard limit and capability bounding set: fixed for the process. */
let hostLimits: Promise<HostLimits> | undefined;
function readHostLimits(): Promise<HostLimits> {
  hostLimits ??= loadHostLimits();
  hostLimits.catch(() => (hostLimits = undefined)); // a failure is not kept
  return hostLimits;
}

async function loadHostLimits(): Promise<HostLimits> {
  const [limits, status] = await Promise.all([
    readFile('/proc/self/limits', 'utf8'),
    readFile('/proc/self/status', 'utf8'),
  ]);
  const hard = /^Max open files\s+\S+\s+(\S+)/m.exec(limits)?.[1];
  const capBnd = /^CapBnd:\s*([0-9a-f]+)/m.exec(status)?.[1];
  return {
    nofile: hard === undefined || hard === 'unlimited' ? DEFAULT_NOFILE : Number(hard),
    capBounding: capBnd === undefined ? (1n << 64n) - 1n : BigInt(`0x${capBnd}`),
  };
}

function readHostResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** Whether each bind source is a file or a directory (the stub must match). */
function statBindSources(spec: RunSpec): Map<string, 'dir' | 'file'> {
  const kinds = new Map<string, 'dir' | 'file'>();
  for (const mount of spec.mounts) {
    if (mount.type !== 'bind') continue;
    if (mount.source === undefined) {
      throw new MountError(`bind mount at ${mount.dest} has no source`);
    }
    let isDirectory: boolean;
    try {
      isDirectory = statSync(mount.source).isDirectory();
    } catch (err) {
      throw new MountError(`bind mount source ${mount.source} does not exist`, {
        hint: `Create it before mounting it at ${mount.dest}.`,
        cause: err,
      });
    }
    kinds.set(mount.source, isDirectory ? 'dir' : 'file');
  }
  return kinds;
}

/**
 * `runc run` with piped stdio. Resolves with the process's exit code; rejects with
 * ContainerStartError when runc itself failed, CancelledError when aborted.
 */
async function runContainer(
  runc: string,
  runcRoot: string,
  prepared: Prepared,
  spec: RunSpec,
  io: IO,
  signal: AbortSignal,
): Promise<number> {
  const logPath = path.join(prepared.bundle, 'runc.log');
  const args = ['--root', runcRoot, '--log', logPath, '--log-format', 'json'];
  args.push('run', '--bundle', prepared.bundle, prepared.id);
  const stdin = spec.process.stdin;
  // Supervised: the container dies with tbuild, even with `kill -9` (supervisor.ts).
  const child = spawnSupervisedRunc({
    runc,
    root: runcRoot,
    id: prepared.id,
    args,
    stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  const stderr = createStderrForwarder(io);
  child.stdout!.on('data', (chunk: Buffer) => io.stdout(chunk));
  child.stderr!.on('data', stderr.write);
  if (stdin !== undefined) {
    // The process may exit without reading; EPIPE then is not our failure.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(stdin);
  }
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' ? new SetprivNotFoundError() : err),
    );
    child.on('close', (code, sig) => resolve(code ?? 128 + (sig ? signalNumber(sig) : 0)));
  });
  const onAbort = () => void stopUntilExited(runc, runcRoot, prepared.id, exited, spec.stop);
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted) onAbort();
  try {
    const code = await exited;
    if (signal.aborted) throw new CancelledError();
    const failure = await readRuncError(logPath);
    if (failure !== undefined) throw new ContainerStartError(failure);
    stderr.flush();
    return code;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * runc writes its own errors to the same stderr the container uses. Hold back output
 * from the first line that looks like runc's until we know (from its log) whether runc
 * failed: then it becomes the error, not build output.
 */
function createStderrForwarder(io: IO) {
  const held: Buffer[] = [];
  return {
    write: (chunk: Buffer) => {
      if (held.length > 0 || chunk.subarray(0, 5).toString() === 'runc ') held.push(chunk);
      else io.stderr(chunk);
    },
    flush: () => {
      for (const chunk of held.splice(0)) io.stderr(chunk);
    },
  };
}

/** The last error runc logged, if any. */
async function readRuncError(logPath: string): Promise<string | undefined> {
  const text = await readFile(logPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  let message: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if (entry.level === 'error' || entry.level === 'fatal') message = entry.msg;
    } catch {
      message ??= line.trim(); // not JSON: runc failed before setting up logging
    }
  }
  return message;
}

/** A graceful stop (the stop signal, a grace period), then SIGKILL until it is gone. */
async function stopUntilExited(
  runc: string,
  runcRoot: string,
  id: string,
  exited: Promise<unknown>,
  stop: RunSpec['stop'],
) {
  if (stop !== undefined) {
    await runCommand(runc, ['--root', runcRoot, 'kill', id, stop.signal]).catch(() => undefined);
    const gone = await Promise.race([
      exited.then(
        () => true,
        () => true,
      ),
      delay(stop.timeoutMs).then(() => false),
    ]);
    if (gone) return;
  }
  await killUntilExited(runc, runcRoot, id, exited);
}

/**
 * Send SIGKILL to the container until `runc run` returns. Retrying covers an abort
 * that arrives while runc is still creating the container (kill then fails).
 */
async function killUntilExited(
  runc: string,
  runcRoot: string,
  id: string,
  exited: Promise<unknown>,
) {
  let done = false;
  void exited.finally(() => (done = true)).catch(() => undefined);
  while (!done) {
    await runCommand(runc, ['--root', runcRoot, 'kill', id, 'KILL']).catch(() => undefined);
    await Promise.race([exited.catch(() => undefined), delay(100)]);
  }
}

async function deleteContainer(runc: string, runcRoot: string, id: string): Promise<void> {
  // `runc run` deletes its container when it exits normally; skip a needless spawn.
  if (!(await pathExists(path.join(runcRoot, id)))) return;
  const result = await runCommand(runc, ['--root', runcRoot, 'delete', '--force', id]).catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return { code: 0, stdout: '', stderr: '' };
      throw err;
    },
  );
  if (result.code !== 0 && !/does not exist|not exist/.test(result.stderr)) {
    throw new ContainerStartError(`could not delete container ${id}: ${result.stderr.trim()}`);
  }
}

/**
 * Delete containers and bundles left by tbuild processes that no longer run (killed
 * builds). Returns the container ids it removed.
 */
export async function cleanupStaleContainers(
  stateDir: string,
  runcPath = 'runc',
): Promise<string[]> {
  const runcRoot = path.join(stateDir, 'runc');
  const bundles = path.join(stateDir, 'bundles');
  const ids = new Set([...(await listDir(runcRoot)), ...(await listDir(bundles))]);
  const removed: string[] = [];
  for (const id of ids) {
    const owner = /^tbuild-(\d+)-[0-9a-f]+$/.exec(id)?.[1];
    if (owner === undefined || isProcessAlive(Number(owner))) continue;
    await runCommand(runcPath, ['--root', runcRoot, 'kill', id, 'KILL']).catch(() => undefined);
    await deleteContainer(runcPath, runcRoot, id);
    await rm(path.join(bundles, id), { recursive: true, force: true });
    removed.push(id);
  }
  return removed;
}

async function pathExists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
