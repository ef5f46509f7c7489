/**
 * Mount-point stubs. runc needs every mount target to exist in the rootfs; when the image
 * lacks one (/proc, /etc/hosts, a RUN --mount target) we create it before the run and
 * remove it afterwards, so that — as with BuildKit — the layer keeps no trace of it.
 *
 * The file system work is synchronous (ADR 20): a RUN checks some thirty paths here, each
 * a few microseconds, where a thread-pool round trip each cost ~3 ms per RUN in all.
 */
import {
  lstatSync,
  lutimesSync,
  mkdirSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { runCommand } from './command.ts';
import { setTimesSyscall } from './mount-helper.ts';
import { resolveInRoot } from './user.ts';

export interface StubRequest {
  /** Absolute path inside the container. */
  dest: string;
  kind: 'dir' | 'file';
}

interface StubRecord {
  /** Container path. */
  path: string;
  host: string;
  kind: 'dir' | 'file';
  parentHost: string;
  /** Parent mtime before we touched it (ns), restored after removal. */
  parentMtimeNs: bigint;
}

export interface MountStubs {
  /** Container paths created, parents first. */
  created: string[];
  /** Remove what was created (if still empty) and restore parent directory times. */
  remove(): Promise<void>;
}

/** Create whatever is missing of `requests` inside `rootfs`, remembering each creation. */
export async function createMountStubs(
  rootfs: string,
  requests: readonly StubRequest[],
): Promise<MountStubs> {
  const records: StubRecord[] = [];
  const stubs: MountStubs = {
    created: [],
    remove: () => removeStubs(records),
  };
  try {
    for (const request of requests) await createStub(rootfs, request, records);
  } catch (err) {
    await removeStubs(records);
    throw err;
  }
  stubs.created = records.map((r) => r.path);
  return stubs;
}

/**
 * Resolve the target as runc will (symlinks clamped to the rootfs: /etc/resolv.conf may
 * point at ../run/systemd/…), then create the missing components top-down.
 */
async function createStub(rootfs: string, request: StubRequest, records: StubRecord[]) {
  const root = path.resolve(rootfs);
  const target = await resolveInRoot(root, request.dest);
  const missing: string[] = [];
  for (let p = target; p !== root && !exists(p); p = path.dirname(p)) missing.unshift(p);
  for (const host of missing) {
    const parentHost = path.dirname(host);
    const parent = statSync(parentHost, { bigint: true });
    const kind = host === target ? request.kind : 'dir';
    if (kind === 'dir') mkdirSync(host, { mode: 0o755 });
    else writeFileSync(host, '', { mode: 0o644, flag: 'wx' });
    records.push({
      path: `/${path.relative(root, host)}`,
      host,
      kind,
      parentHost,
      parentMtimeNs: parent.mtimeNs,
    });
  }
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Mount points that stay in the layer as empty 0755 directories: BuildKit (and Docker
 * since 20.10) keeps /dev, /proc and /sys when the image lacks them (moby/buildkit#7039),
 * while /etc/hosts, /etc/resolv.conf and RUN --mount targets leave no trace.
 */
const KEPT_MOUNT_POINTS = new Set(['/dev', '/proc', '/sys']);

async function removeStubs(records: StubRecord[]): Promise<void> {
  for (const record of [...records].reverse()) {
    if (KEPT_MOUNT_POINTS.has(record.path)) continue;
    if (!(await removeIfUnused(record))) continue;
    // Creating the stub bumped the parent's mtime (and copied the parent up into the
    // upperdir); put the times back so the directory looks untouched.
    await restoreMtime(record.parentHost, record.parentMtimeNs);
  }
  records.length = 0;
}

/**
 * Node's utimes goes through a double and loses the nanoseconds a layer diff compares, so a
 * time with nanoseconds is set by the mount helper's utimensat(2), or GNU touch without it
 * (atime too: nothing in a layer records it). A whole second, as every file unpacked from
 * an image's tar has, is exact as a double: Node sets it without a process.
 */
async function restoreMtime(dir: string, mtimeNs: bigint): Promise<void> {
  const now = statSync(dir, { bigint: true, throwIfNoEntry: false });
  if (now === undefined || now.mtimeNs === mtimeNs) return;
  const seconds = mtimeNs / 1_000_000_000n;
  const nanos = mtimeNs % 1_000_000_000n;
  if (nanos === 0n) {
    lutimesSync(dir, Number(seconds), Number(seconds));
    if (lstatSync(dir, { bigint: true }).mtimeNs === mtimeNs) return;
  }
  if ((await setTimesSyscall(dir, seconds, nanos)) === 0) return;
  const fraction = nanos.toString().padStart(9, '0');
  const result = await runCommand('touch', ['-h', '-d', `@${seconds}.${fraction}`, dir]);
  if (result.code !== 0) throw new Error(`touch ${dir}: ${result.stderr.trim()}`);
}

/** Remove a stub unless the build put something into it. True when removed. */
async function removeIfUnused(record: StubRecord): Promise<boolean> {
  try {
    if (record.kind === 'dir') {
      rmdirSync(record.host);
    } else {
      const info = lstatSync(record.host);
      if (!info.isFile() || info.size !== 0) return false;
      unlinkSync(record.host);
    }
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR') {
      return false;
    }
    throw err;
  }
}
