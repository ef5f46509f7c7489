/** What the store's parts share: the root, its layout and the open database. */
import type { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';

export interface StoreLayout {
  root: string;
  blobs: string;
  snapshots: string;
  tmp: string;
  mounts: string;
  cacheMounts: string;
  database: string;
}

/** The directory layout under a store root. */
export function resolveLayout(root: string): StoreLayout {
  return {
    root,
    blobs: join(root, 'blobs', 'sha256'),
    snapshots: join(root, 'snapshots'),
    tmp: join(root, 'tmp'),
    mounts: join(root, 'mounts'),
    cacheMounts: join(root, 'cache-mounts'),
    database: join(root, 'tbuild.db'),
  };
}

export interface StoreContext {
  layout: StoreLayout;
  db: DatabaseSync;
  /** This process's private temp directory (created on first use, gone with the process). */
  leaseTempDir(): Promise<string>;
}
