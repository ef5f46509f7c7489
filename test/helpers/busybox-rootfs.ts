/**
 * A minimal root filesystem for tests that run containers: Debian's busybox-static with
 * a symlink per applet, users root, app (1000) and nobody, and a sticky /tmp. It has no
 * /proc, /dev, /sys, /etc/hosts or /etc/resolv.conf, like a hand-made scratch image.
 */
import { execFileSync } from 'node:child_process';
import { chmod, chown, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

const BUSYBOX = '/bin/busybox';

export const BUSYBOX_PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'app:x:1000:1000:app:/home/app:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  '',
].join('\n');

/** `app` is also a member of `users` (100) and `staff` (50): supplementary groups. */
export const BUSYBOX_GROUP = [
  'root:x:0:',
  'staff:x:50:app',
  'users:x:100:app',
  'app:x:1000:',
  'nogroup:x:65534:',
  '',
].join('\n');

let applets: string[] | undefined;

/** Applet paths relative to /, e.g. `bin/ls`, `usr/bin/id` (from `busybox --list-full`). */
function listApplets(): string[] {
  applets ??= execFileSync(BUSYBOX, ['--list-full'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line !== '' && line !== 'bin/busybox');
  return applets;
}

/** Create a busybox root filesystem in `dir` (created when missing). */
export async function makeBusyboxRootfs(dir: string): Promise<void> {
  for (const sub of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'root', 'home/app']) {
    await mkdir(path.join(dir, sub), { recursive: true, mode: 0o755 });
  }
  await copyFile(BUSYBOX, path.join(dir, 'bin/busybox'));
  await chmod(path.join(dir, 'bin/busybox'), 0o755);
  for (const applet of listApplets()) {
    await symlink('/bin/busybox', path.join(dir, applet));
  }
  await writeFile(path.join(dir, 'etc/passwd'), BUSYBOX_PASSWD, { mode: 0o644 });
  await writeFile(path.join(dir, 'etc/group'), BUSYBOX_GROUP, { mode: 0o644 });
  await chmod(path.join(dir, 'root'), 0o700);
  await chown(path.join(dir, 'home/app'), 1000, 1000);
  await mkdir(path.join(dir, 'tmp'));
  await chmod(path.join(dir, 'tmp'), 0o1777);
}
