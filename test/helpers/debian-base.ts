/**
 * A real Debian bookworm base image for the tests that need dpkg and apt: `debootstrap
 * --variant=minbase` from Debian's mirror, trimmed as Debian's container images are (no
 * package caches or lists, no device nodes; no documentation or translations, as -slim),
 * and tarred with numeric owners for `tbuild import`. Needs root, debootstrap and
 * debian-archive-keyring (scripts/setup.sh installs both), and Debian's mirror.
 *
 * debootstrap takes about a minute, so the tarball is kept for the rest of the day under
 * os.tmpdir(), in a directory only this user can write (a cache another user could plant
 * a file in would be a way into root's builds); CI's fresh machines always make it anew.
 */
import { execFile, spawn } from 'node:child_process';
import {
  access,
  copyFile,
  link,
  lstat,
  mkdir,
  mkdtemp,
  open,
  readFile,
  readdir,
  rename,
  rm,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** The reference the tests import the base as (not in the loopback registry: no pull can stand in). */
export const DEBIAN_REF = 'localhost:5000/tbuild-test/debian:bookworm-minbase';

/** `TBUILD_TEST_OFFLINE=1` skips the tests that need Debian's mirror; otherwise they fail without it. */
export const TEST_OFFLINE = process.env.TBUILD_TEST_OFFLINE === '1';

const MIRROR = process.env.TBUILD_TEST_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

const MAKE_ROOTFS = `set -euo pipefail
root=$1; out=$2; mirror=$3; keyring=$4
debootstrap --variant=minbase --keyring="$keyring" bookworm "$root" "$mirror"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/dev/* \\
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/usr/share/info/*
tar --numeric-owner --sort=name -C "$root" -cf "$out" .`;

/**
 * Write the Debian bookworm minbase root filesystem tarball (uncompressed, about 75 MB) to
 * `file`, from today's cache when there is one (or once the e2e run's prefetch has made
 * it). Throws, with the mirror and debootstrap's last lines, when the mirror cannot be
 * reached.
 */
export async function makeDebianRootfsTar(file: string): Promise<void> {
  const cacheDir = await ownCacheDir();
  const cached = cacheDir && path.join(cacheDir, `debian-bookworm-minbase-${today()}.tar`);
  if (cached) await waitWhileLocked(`${cached}.lock`);
  if (cached && (await lstat(cached).catch(() => undefined))?.isFile()) {
    await linkOrCopy(cached, file);
    return;
  }
  await makeRootfs(file, cached && cacheDir ? { cacheDir, cached } : undefined);
}

/**
 * Start making today's cached tarball, for the e2e run's global set-up: debootstrap (about a
 * minute, mostly the mirror and dpkg) then runs beside the test files before the one that
 * needs it. Resolves at once when the tarball is there or another process makes it; a
 * failure is left for makeDebianRootfsTar to report. `signal` stops it (the run ended).
 */
export async function prefetchDebianRootfs(signal: AbortSignal): Promise<void> {
  if (TEST_OFFLINE || process.getuid?.() !== 0) return; // debootstrap needs root
  const cacheDir = await ownCacheDir();
  if (!cacheDir) return;
  const cached = path.join(cacheDir, `debian-bookworm-minbase-${today()}.tar`);
  if ((await lstat(cached).catch(() => undefined))?.isFile()) return;
  const lock = `${cached}.lock`;
  const handle = await open(lock, 'wx').catch(() => undefined);
  if (!handle) return; // another process makes it
  try {
    await handle.writeFile(String(process.pid));
    await handle.close();
    await makeRootfs(undefined, { cacheDir, cached }, signal).catch(() => undefined);
  } finally {
    await rm(lock, { force: true });
  }
}

/** Wait while a live process holds `lock` (a prefetch making the tarball). */
async function waitWhileLocked(lock: string): Promise<void> {
  for (;;) {
    const pid = Number(await readFile(lock, 'utf8').catch(() => ''));
    if (!pid || !isAlive(pid)) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** debootstrap into a temp dir; the tarball goes to the cache (if any), then to `file`. */
async function makeRootfs(
  file: string | undefined,
  cache: { cacheDir: string; cached: string } | undefined,
  signal?: AbortSignal,
): Promise<void> {
  await access(KEYRING).catch(() => {
    throw new Error(
      `${KEYRING} is missing: install debian-archive-keyring (scripts/setup.sh does) so that debootstrap can check Debian's archive`,
    );
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tbuild-debootstrap-'));
  const root = path.join(dir, 'rootfs');
  const tmpTar = path.join(dir, 'rootfs.tar');
  try {
    await runScript(
      ['-c', MAKE_ROOTFS, 'make-debian-rootfs', root, tmpTar, MIRROR, KEYRING],
      signal,
    );
    if (cache) {
      for (const old of await readdir(cache.cacheDir))
        if (old.startsWith('debian-bookworm-minbase-') && !old.endsWith('.lock'))
          await rm(path.join(cache.cacheDir, old), { force: true });
      await rename(tmpTar, cache.cached);
      if (file) await linkOrCopy(cache.cached, file);
    } else if (file) {
      await rename(tmpTar, file);
    }
  } finally {
    await unmountUnder(root);
    await rm(dir, { recursive: true, force: true });
  }
}

/** bash `args`, in a process group of its own so that `signal` stops debootstrap too. */
function runScript(args: string[], signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', args, {
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const stop = () => {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // gone already
      }
    };
    signal?.addEventListener('abort', stop, { once: true });
    child.on('error', reject);
    child.on('close', (code) => {
      signal?.removeEventListener('abort', stop);
      if (code === 0) return resolve();
      const tail = output.trim().split('\n').slice(-15).join('\n');
      reject(
        new Error(
          `debootstrap of Debian bookworm from ${MIRROR} failed (is the mirror reachable? set TBUILD_TEST_OFFLINE=1 to skip the tests that need it):\n${tail || `exit code ${code}`}`,
        ),
      );
    });
  });
}

/** os.tmpdir()/tbuild-test-cache-UID, made 0700; undefined when it exists but is not only ours. */
async function ownCacheDir(): Promise<string | undefined> {
  const dir = path.join(os.tmpdir(), `tbuild-test-cache-${process.getuid?.() ?? 0}`);
  await mkdir(dir, { mode: 0o700 }).catch(() => undefined);
  const st = await lstat(dir).catch(() => undefined);
  if (!st?.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o077) !== 0)
    return undefined;
  return dir;
}

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** A hard link (the cached tarball is 75 MB), or a copy across file systems. */
async function linkOrCopy(from: string, to: string): Promise<void> {
  await rm(to, { force: true });
  await link(from, to).catch(() => copyFile(from, to));
}

/** debootstrap mounts /proc and /sys in the tree and can leave them there when it fails. */
async function unmountUnder(root: string): Promise<void> {
  const mounts = (await readFile('/proc/self/mounts', 'utf8').catch(() => ''))
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((point) => point.startsWith(`${root}/`))
    .reverse();
  for (const point of mounts) await exec('umount', ['-l', point]).catch(() => undefined);
}
