/**
 * Real unprivileged users for the rootless tests (issue 16): created with `useradd` and
 * explicit ranges in /etc/subuid and /etc/subgid (or none), and tbuild run as them through
 * `runuser` in a login-less environment, as a user's shell runs it. Also the OCI output
 * readers the tests compare root and rootless builds with. Needs root.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { TBUILD_BIN, type RunTbuildResult } from './run-tbuild.ts';

const exec = promisify(execFile);

export interface TestUser {
  name: string;
  home: string;
}

/**
 * Fail with the fix when AppArmor denies unprivileged user namespaces (Ubuntu 24.04's
 * default; CI turns it off first), instead of every rootless build failing obscurely.
 */
export async function assertUserNamespacesAllowed(): Promise<void> {
  const restricted = await readFile(
    '/proc/sys/kernel/apparmor_restrict_unprivileged_userns',
    'utf8',
  ).catch(() => '0');
  if (restricted.trim() === '1') {
    throw new Error(
      'AppArmor restricts unprivileged user namespaces here: run `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` first (CI does)',
    );
  }
}

/** Run tbuild as `user` (a login-less environment, as a user's shell has). */
export function runAs(
  user: TestUser,
  args: readonly string[],
  extraEnv: readonly string[] = [],
): Promise<RunTbuildResult> {
  return runCommandAs(user, process.execPath, [TBUILD_BIN, ...args], extraEnv);
}

/** Run `command` as `user` with only HOME, PATH, NO_COLOR, USER and `extraEnv` set. */
export function runCommandAs(
  user: TestUser,
  command: string,
  args: readonly string[],
  extraEnv: readonly string[] = [],
): Promise<RunTbuildResult> {
  const env = [
    `HOME=${user.home}`,
    `PATH=${process.env.PATH}`,
    'NO_COLOR=1',
    `USER=${user.name}`,
    ...extraEnv,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('runuser', ['-u', user.name, '--', 'env', '-i', ...env, command, ...args], {
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * A new user with a home directory, and 65536 subordinate uids and gids when `subids`
 * (none otherwise). Create users one at a time: each rewrites /etc/subuid and /etc/subgid.
 */
export async function createUser(subids: boolean): Promise<TestUser> {
  const name = `tbrl${randomBytes(4).toString('hex')}`;
  await exec('useradd', ['--create-home', '--shell', '/bin/sh', name]);
  // useradd may allocate ranges itself (SUB_UID_MIN in login.defs): ours are explicit.
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    const kept = (await readFile(file, 'utf8').catch(() => ''))
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith(`${name}:`));
    if (subids) kept.push(`${name}:${await freeSubidStart(file)}:65536`);
    await writeFile(file, kept.map((l) => `${l}\n`).join(''));
  }
  return { name, home: `/home/${name}` };
}

/** A range start above every range in `file`. */
async function freeSubidStart(file: string): Promise<number> {
  let end = 100000;
  for (const line of (await readFile(file, 'utf8').catch(() => '')).split('\n')) {
    const [, start, count] = line.split(':').map(Number);
    if (Number.isInteger(start) && Number.isInteger(count)) end = Math.max(end, start! + count!);
  }
  return end;
}

/** Remove the user, its home and its subordinate ranges (nothing when `user` is undefined). */
export async function removeUser(user: TestUser | undefined): Promise<void> {
  if (!user) return;
  await exec('userdel', ['--remove', user.name]).catch(() => undefined);
  await rm(user.home, { recursive: true, force: true });
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const kept = text.split('\n').filter((l) => l !== '' && !l.startsWith(`${user.name}:`));
    await writeFile(file, kept.map((l) => `${l}\n`).join(''));
  }
}

/** Blob names of an OCI layout tar: equal sets mean byte-identical manifests, configs, layers. */
export async function blobsOf(tar: string): Promise<string[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tbuild-rootless-oci-'));
  try {
    await exec('tar', ['-xf', tar, '-C', dir]);
    return (await readdir(path.join(dir, 'blobs/sha256'))).sort();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Unpack an OCI layout tar and call `use` with its first manifest's layer blob paths, bottom first. */
async function withLayers<T>(tar: string, use: (layers: string[]) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tbuild-rootless-oci-'));
  try {
    await exec('tar', ['-xf', tar, '-C', dir]);
    const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as {
      manifests: Array<{ digest: string }>;
    };
    const blob = (d: string) => path.join(dir, 'blobs/sha256', d.slice('sha256:'.length));
    const manifest = JSON.parse(await readFile(blob(index.manifests[0]!.digest), 'utf8')) as {
      layers: Array<{ digest: string }>;
    };
    return await use(manifest.layers.map((layer) => blob(layer.digest)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `tar -tv --numeric-owner` lines of the layer blobs (compressed or not) in an OCI layout
 * tar: all of them, or `layers.slice(from)` (-3: the last three, 1: all but the base).
 */
export function layerListings(tar: string, from = 0): Promise<string> {
  return withLayers(tar, async (layers) => {
    let out = '';
    for (const layer of layers.slice(from)) {
      out += (await exec('tar', ['-tvf', layer, '--numeric-owner'], { maxBuffer: 64 << 20 }))
        .stdout;
    }
    return out;
  });
}

/**
 * The text of `member` (e.g. `etc/passwd`) as the image in an OCI layout tar has it: from
 * the topmost layer that holds it. Undefined when no layer does.
 */
export function imageFile(tar: string, member: string): Promise<string | undefined> {
  return withLayers(tar, async (layers) => {
    for (const layer of [...layers].reverse()) {
      const got = await exec('tar', ['-xOf', layer, member], { maxBuffer: 64 << 20 }).catch(
        () => undefined,
      );
      if (got) return got.stdout;
    }
    return undefined;
  });
}
