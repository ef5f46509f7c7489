/**
 * The default network of RUN: a network namespace of its own, with outbound access
 * through slirp4netns (user-mode networking: a TAP device in the namespace, served by a
 * host process that makes ordinary sockets). Nothing is configured on the host: no
 * bridge, no veth, no iptables rule, so nothing is left behind when tbuild dies.
 *
 * slirp4netns runs with --disable-host-loopback: the host's 127.0.0.1 services (a local
 * registry, a metadata proxy) are out of reach, as behind Docker's bridge.
 *
 * A namespace lives as long as its holder, a `cat` reading a pipe from tbuild, and
 * slirp4netns stops when the pipe of its --exit-fd closes: both go when tbuild exits,
 * however it exits. Namespaces are kept in a pool for the builder's life (every build of a
 * watch session), so only the first RUN (and each RUN running beside another) pays for
 * setting one up. Neither process keeps tbuild's event loop alive: a pool that is never
 * closed ends with the process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readlink } from 'node:fs/promises';
import { delay } from './command.ts';
import { NetworkSetupError } from './errors.ts';

/** slirp4netns's fixed addresses (its defaults with --configure). */
export const SLIRP_DNS = '10.0.2.3';
const MTU = 65520;
const READY_TIMEOUT_MS = 10_000;

export interface NetworkLease {
  /** The namespace, for the OCI spec's `{ type: 'network', path }`. */
  path: string;
  release(): void;
}

export interface NetworkPool {
  /** A namespace no other RUN is using (made on demand). */
  acquire(): Promise<NetworkLease>;
  /**
   * Start making a namespace now, for a RUN that is about to come: the next acquire()
   * takes it. Does nothing when one is idle or on its way. A failure is not reported
   * here; the acquire() that takes it gets it.
   */
  warm(): void;
  /** Stop (SIGKILL) every namespace's holder and slirp4netns; their exit is not awaited. */
  close(): Promise<void>;
}

export interface NetworkPoolOptions {
  slirp4netnsPath?: string;
}

interface Namespace {
  path: string;
  holder: ChildProcess;
  slirp: ChildProcess;
}

export function createNetworkPool(options: NetworkPoolOptions = {}): NetworkPool {
  const slirpPath = options.slirp4netnsPath ?? 'slirp4netns';
  const idle: Namespace[] = [];
  const all = new Set<Namespace>();
  let warming: Promise<Namespace> | undefined;
  let closed = false;
  /** An idle namespace whose processes still run (one may have been killed meanwhile). */
  const takeIdle = (): Namespace | undefined => {
    for (let ns = idle.pop(); ns; ns = idle.pop()) {
      if (isRunning(ns.holder) && isRunning(ns.slirp)) return ns;
      all.delete(ns);
      stopNamespace(ns);
    }
    return undefined;
  };
  return {
    async acquire() {
      if (closed) throw new NetworkSetupError('the builder was closed');
      const early = warming;
      warming = undefined;
      let ns = takeIdle();
      ns ??= await (early ?? createNamespace(slirpPath));
      if (closed) {
        stopNamespace(ns);
        throw new NetworkSetupError('the builder was closed');
      }
      all.add(ns);
      return {
        path: ns.path,
        release: () => {
          if (closed) stopNamespace(ns);
          else idle.push(ns);
        },
      };
    },
    warm() {
      if (closed || warming || idle.length > 0) return;
      warming = createNamespace(slirpPath);
      warming.catch(() => undefined);
    },
    async close() {
      closed = true;
      idle.length = 0;
      const early = warming;
      warming = undefined;
      // One still being made is stopped once it is there.
      early?.then(stopNamespace, () => undefined);
      for (const ns of all) stopNamespace(ns);
      all.clear();
    },
  };
}

async function createNamespace(slirpPath: string): Promise<Namespace> {
  // `unshare --net` execs `cat` in the new namespace: same pid, stdin a pipe from us.
  const holder = spawn('unshare', ['--net', '--', 'cat'], { stdio: ['pipe', 'ignore', 'pipe'] });
  const holderFailed = exitPromise(holder, 'unshare --net');
  try {
    const pid = await holderPid(holder, holderFailed);
    const path = `/proc/${pid}/ns/net`;
    await waitForNewNamespace(path, holderFailed);
    const slirp = spawn(
      slirpPath,
      [
        '--configure',
        `--mtu=${MTU}`,
        '--disable-host-loopback',
        '--enable-sandbox',
        '--enable-seccomp',
        '--exit-fd=3',
        '--ready-fd=4',
        String(pid),
        'tap0',
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
    );
    try {
      await waitReady(slirp, exitPromise(slirp, 'slirp4netns'));
    } catch (error) {
      slirp.kill('SIGKILL');
      throw error;
    }
    for (const child of [holder, slirp]) {
      child.unref();
      for (const stream of child.stdio) (stream as { unref?: () => void } | null)?.unref?.();
    }
    return { path, holder, slirp };
  } catch (error) {
    holder.kill('SIGKILL');
    throw error;
  }
}

function holderPid(holder: ChildProcess, failed: Promise<never>): Promise<number> {
  if (holder.pid !== undefined) return Promise.resolve(holder.pid);
  return failed;
}

/** `unshare` has switched namespaces once its namespace link differs from ours. */
async function waitForNewNamespace(path: string, failed: Promise<never>): Promise<void> {
  const ours = await readlink('/proc/self/ns/net');
  let done = false;
  failed.catch(() => (done = true));
  for (let pause = 1; !done; pause = Math.min(pause * 2, 20)) {
    const theirs = await readlink(path).catch(() => ours);
    if (theirs !== ours) return;
    await Promise.race([delay(pause), failed]);
  }
  await failed;
}

/** slirp4netns writes "1" to its ready fd once the namespace's tap0 is configured. */
function waitReady(slirp: ChildProcess, failed: Promise<never>): Promise<void> {
  const ready = new Promise<void>((resolve) => {
    (slirp.stdio[4] as NodeJS.ReadableStream).once('data', () => resolve());
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new NetworkSetupError(`slirp4netns was not ready after ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    );
  });
  return Promise.race([ready, failed, timeout]).finally(() => clearTimeout(timer));
}

/** Rejects with the program's stderr when it fails to start or exits. */
function exitPromise(child: ChildProcess, name: string): Promise<never> {
  const stderr: Buffer[] = [];
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  const promise = new Promise<never>((_, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'ENOENT'
          ? new NetworkSetupError(`${name.split(' ')[0]} is not installed`, { cause: error })
          : new NetworkSetupError(`${name} failed: ${error.message}`, { cause: error }),
      ),
    );
    child.once('exit', (code, signal) => {
      const detail = Buffer.concat(stderr).toString('utf8').trim().split('\n').pop();
      reject(
        new NetworkSetupError(
          `${name} exited (${signal ?? `code ${code}`})${detail ? `: ${detail}` : ''}`,
        ),
      );
    });
  });
  promise.catch(() => undefined); // observed by whoever waits; an idle exit is not an error
  return promise;
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * SIGKILL a namespace's processes, not waiting for them: the kernel ends them at once and
 * Node reaps them when it hears, without holding the event loop (a CLI build does not
 * wait ~20 ms for slirp4netns to go before it exits).
 */
function stopNamespace(ns: Namespace): void {
  // Closing the exit fd stops slirp4netns; closing stdin stops the holder.
  (ns.slirp.stdio[3] as NodeJS.WritableStream & { destroy(): void }).destroy();
  ns.holder.stdin?.destroy();
  ns.slirp.kill('SIGKILL');
  ns.holder.kill('SIGKILL');
}

/** The resolv.conf of an isolated RUN: the host's, with slirp4netns's DNS forwarder. */
export function isolatedResolvConf(host: string): string {
  const kept = host.split('\n').filter((line) => line.trim() && !/^\s*nameserver\s/.test(line));
  return [`nameserver ${SLIRP_DNS}`, ...kept].join('\n') + '\n';
}
