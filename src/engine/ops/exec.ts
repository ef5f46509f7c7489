/**
 * RUN: an exec op on an overlay of its root input; the upper dir becomes the new layer.
 * Extra mounts (RUN --mount) are prepared here as host paths for the executor.
 */
import { formatPlatform, type Platform } from '../../shared/platform.ts';
import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ExecMount, ExecOp } from '../../llb/types.ts';
import type { ExecMountSpec } from '../../exec/types.ts';
import { resolveUser } from '../../exec/user.ts';
import type { OpContext } from '../../solver/types.ts';
import {
  RunFailedError,
  SecretNotFoundError,
  SshAgentNotFoundError,
  UnsupportedOpError,
} from '../errors.ts';
import type { Scope } from '../mounts.ts';
import { writeNewSnapshot, type LayerTarget } from './new-snapshot.ts';
import type { EngineOptions, Ref } from '../types.ts';
import { resolveInRoot } from '../file/paths.ts';
import { copyTree } from '../copy-tree.ts';

const DEFAULT_HOSTS = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';

export async function runExecOp(
  engine: EngineOptions,
  op: ExecOp,
  inputs: readonly Ref[],
  ctx: OpContext,
  description: string,
  platform?: Platform,
): Promise<Ref[]> {
  const emulation = platform && engine.emulation?.get(formatPlatform(platform));
  const rootMount = op.mounts.find((m) => m.dest === '/');
  if (!rootMount) throw new UnsupportedOpError('exec op has no root mount');
  const extraOutputs = op.mounts.filter((m) => m !== rootMount && m.output !== null);
  if (extraOutputs.length > 0)
    throw new UnsupportedOpError(
      'exec ops with outputs other than the root filesystem are not supported',
    );
  const base = rootMount.input === null ? ({ kind: 'empty' } as Ref) : inputs[rootMount.input]!;
  const runIn = async ({ path: rootfs, scope }: LayerTarget): Promise<void> => {
    const user = await resolveUser(rootfs, op.user);
    await ensureWorkdir(rootfs, op.cwd);
    const mounts: ExecMountSpec[] = [];
    const env = [...op.env];
    const network = op.network === 'default' ? (engine.defaultNetwork ?? 'isolated') : op.network;
    const caches = await lockCacheMounts(engine, op.mounts, ctx.signal);
    let exitCode: number;
    try {
      for (const mount of op.mounts) {
        if (mount === rootMount) continue;
        const spec = await prepareMount(engine, scope, mount, inputs, env, caches.busy);
        if (spec) mounts.push(spec);
      }
      const result = await engine.executor.run(
        {
          rootfs,
          process: {
            args: op.args,
            env,
            cwd: op.cwd,
            uid: user.uid,
            gid: user.gid,
            additionalGids: user.additionalGids,
            ...(op.stdin !== undefined ? { stdin: op.stdin } : {}),
          },
          mounts,
          network,
          security: op.security,
          hosts: DEFAULT_HOSTS + (op.extraHosts ?? []).map((h) => `${h.ip}\t${h.host}\n`).join(''),
          ...(op.shmSize !== undefined ? { shmSize: op.shmSize } : {}),
          ...(op.ulimits ? { ulimits: op.ulimits } : {}),
          ...(emulation ? { emulation } : {}),
        },
        {
          stdout: (chunk) => ctx.log('stdout', chunk.toString()),
          stderr: (chunk) => ctx.log('stderr', chunk.toString()),
        },
        ctx.signal,
      );
      exitCode = result.exitCode;
    } finally {
      await caches.release();
    }
    ctx.signal.throwIfAborted();
    if (exitCode !== 0) throw new RunFailedError(op.args, exitCode);
  };
  return writeNewSnapshot(engine, base, description, runIn, {
    imageLayer: engine.isImageLayer?.(ctx.digest) === true,
  });
}

/** BuildKit creates a missing working directory before running the command. */
async function ensureWorkdir(rootfs: string, cwd: string): Promise<void> {
  const host = await resolveInRoot(rootfs, cwd, true);
  await mkdir(host, { recursive: true, mode: 0o755 });
}

async function prepareMount(
  engine: EngineOptions,
  scope: Scope,
  mount: ExecMount,
  inputs: readonly Ref[],
  env: string[],
  busyCaches: ReadonlySet<string>,
): Promise<ExecMountSpec | undefined> {
  const inputRef = (): Ref => (mount.input === null ? { kind: 'empty' } : inputs[mount.input]!);
  switch (mount.type) {
    case 'bind': {
      const base = mount.readonly
        ? await scope.mountReadOnly(inputRef())
        : await scope.mountScratchWritable(inputRef());
      const source = mount.selector ? await resolveInRoot(base, mount.selector, true) : base;
      return { dest: mount.dest, type: 'bind', source, readonly: mount.readonly };
    }
    case 'tmpfs':
      return {
        dest: mount.dest,
        type: 'tmpfs',
        readonly: false,
        ...(mount.tmpfs?.size ? { size: mount.tmpfs.size } : {}),
      };
    case 'cache': {
      const dir = await cacheMountDir(engine, scope, mount, inputRef, busyCaches);
      const source = mount.selector ? await resolveInRoot(dir, mount.selector, true) : dir;
      await mkdir(source, { recursive: true });
      return { dest: mount.dest, type: 'bind', source, readonly: mount.readonly };
    }
    case 'secret': {
      const opt = mount.secret!;
      const secret = engine.secrets?.find((s) => s.id === opt.id);
      const value = secret?.file !== undefined ? await readSecret(secret.file) : secret?.value;
      if (value === undefined) {
        if (opt.optional) return undefined;
        throw new SecretNotFoundError(opt.id);
      }
      if (opt.env) env.push(`${opt.env}=${value}`);
      if (!mount.dest) return undefined;
      const file = path.join(await scope.tempDir(), 'secret');
      await writeFile(file, value, { mode: 0o400 });
      await chown(file, opt.uid ?? 0, opt.gid ?? 0);
      await chmod(file, opt.mode ?? 0o400);
      return { dest: mount.dest, type: 'bind', source: file, readonly: true };
    }
    case 'ssh': {
      const opt = mount.ssh!;
      const agent = engine.sshAgents?.[opt.id];
      if (agent === undefined) {
        if (opt.optional) return undefined;
        throw new SshAgentNotFoundError(opt.id);
      }
      const { startAgentProxy } = await import('../ssh-agent.ts');
      const proxy = await startAgentProxy({ agent, uid: opt.uid, gid: opt.gid, mode: opt.mode });
      scope.onClose(() => proxy.close());
      return { dest: mount.dest, type: 'bind', source: proxy.socket, readonly: false };
    }
  }
}

async function readSecret(file: string): Promise<string> {
  return readFile(file, 'utf8');
}

/**
 * Cache mounts persist in the store (Store.cacheMount); they never enter a layer or a
 * cache key. `from=` seeds a new cache directory from another stage. A `sharing=private`
 * cache that another step holds gets a new directory of its own for this step, seeded
 * the same way and thrown away after it (BuildKit: "a new mount if there are multiple
 * writers").
 */
async function cacheMountDir(
  engine: EngineOptions,
  scope: Scope,
  mount: ExecMount,
  inputRef: () => Ref,
  busyCaches: ReadonlySet<string>,
): Promise<string> {
  const opt = mount.cache!;
  const seed = async (dir: string) => {
    if (mount.input !== null) {
      const src = await scope.mountReadOnly(inputRef());
      await copyTree(src, dir);
    }
    await chown(dir, opt.uid ?? 0, opt.gid ?? 0);
    await chmod(dir, opt.mode ?? 0o755);
  };
  if (!busyCaches.has(opt.id)) return engine.store.cacheMount(opt.id, seed);
  const own = await scope.tempDir();
  await seed(own);
  return own;
}

/**
 * Take the step's cache-mount locks: `locked` ones wait their turn; `private` ones are
 * taken if free, and otherwise listed as busy (the step then gets its own directory).
 */
async function lockCacheMounts(
  engine: EngineOptions,
  mounts: readonly ExecMount[],
  signal: AbortSignal,
): Promise<{ busy: ReadonlySet<string>; release(): Promise<void> }> {
  const sharing = new Map<string, 'locked' | 'private'>();
  for (const m of mounts) {
    const s = m.type === 'cache' ? m.cache?.sharing : undefined;
    if (s === 'locked' || (s === 'private' && !sharing.has(m.cache!.id)))
      sharing.set(m.cache!.id, s);
  }
  const releases: Array<() => Promise<void>> = [];
  const busy = new Set<string>();
  const release = async () => {
    for (const r of releases.splice(0).reverse()) await r();
  };
  try {
    // Sorted, so two steps locking the same caches cannot deadlock.
    for (const [id, mode] of [...sharing].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const name = `cache-mount:${id}`;
      if (mode === 'locked') releases.push(await engine.store.lock(name, signal));
      else {
        const held = engine.store.tryLock(name);
        if (held) releases.push(held);
        else busy.add(id);
      }
    }
  } catch (error) {
    await release();
    throw error;
  }
  return { busy, release };
}
