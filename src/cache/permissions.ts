/**
 * The store is private to its owner. Snapshots hold image layers as plain files, setuid
 * binaries included, and the database holds build arguments: a local user who could
 * reach either could run a layer's setuid-root shell or read the arguments (the class of
 * Moby's CVE-2021-41091). So every directory of the layout is 0700 and the database 0600.
 * Stores made by older versions (0711 / 0755 / 0644) are fixed when opened.
 */
import { chmod, open, readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { StoreLayout } from './context.ts';
import { isNotFound } from './fs-utils.ts';

const PRIVATE_DIR = 0o700;
const PRIVATE_FILE = 0o600;

/** Make the layout's directories and database files private; call after they exist. */
export async function secureLayout(layout: StoreLayout): Promise<void> {
  // Whether the snapshots directory was already private tells an old store from a new one:
  // only an old store needs each snapshot directory fixed too.
  const legacy = ((await stat(layout.snapshots)).mode & 0o777) !== PRIVATE_DIR;
  for (const dir of [
    layout.root,
    dirname(layout.blobs),
    layout.blobs,
    layout.tmp,
    layout.mounts,
    layout.cacheMounts,
    layout.snapshots,
  ]) {
    await chmod(dir, PRIVATE_DIR);
  }
  if (legacy) {
    for (const name of await readdir(layout.snapshots)) {
      await chmodIfExists(join(layout.snapshots, name), PRIVATE_DIR);
    }
  }
  await createPrivateFile(layout.database);
  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    await chmodIfExists(layout.database + suffix, PRIVATE_FILE);
  }
}

/**
 * Create the database file 0600 before SQLite opens it: SQLite would create it with the
 * umask's mode (usually 0644), and gives its -wal and -shm files the database's mode.
 */
async function createPrivateFile(file: string): Promise<void> {
  const handle = await open(file, 'a', PRIVATE_FILE);
  await handle.close();
}

async function chmodIfExists(path: string, mode: number): Promise<void> {
  try {
    await chmod(path, mode);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}
