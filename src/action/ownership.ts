/**
 * Files a build writes into the workspace (local, tar, docker and oci outputs) belong to
 * the runner's user again afterwards: the build ran as root through sudo, and later steps
 * (and the runner's clean-up of the workspace) run as that user.
 */
import { lchown, lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { BuildOptions } from '../builder/index.ts';
import type { ActionIO } from './runner.ts';

export async function restoreOwnership(options: BuildOptions, io: ActionIO): Promise<void> {
  const uid = Number(io.env.SUDO_UID);
  const gid = Number(io.env.SUDO_GID);
  if (!io.env.SUDO_UID || !Number.isInteger(uid) || !Number.isInteger(gid)) return;
  for (const output of options.outputs ?? []) {
    if (!output.dest || output.dest === '-') continue;
    await chownTree(path.resolve(io.cwd, output.dest), uid, gid);
  }
}

async function chownTree(target: string, uid: number, gid: number): Promise<void> {
  const st = await lstat(target).catch(() => undefined);
  if (!st) return;
  await lchown(target, uid, gid);
  if (!st.isDirectory()) return;
  for (const name of await readdir(target)) await chownTree(path.join(target, name), uid, gid);
}
