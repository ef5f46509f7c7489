/** Temp stores for the store's own tests. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from './store.ts';
import type { Store } from './types.ts';

/** A pid above the kernel's maximum: never a live process. */
export const DEAD_PID = 4_194_305;

/** A fresh store root; `cleanup` closes every store opened on it and removes it. */
export async function createTempRoot(): Promise<{
  root: string;
  open(): Promise<Store>;
  cleanup(): Promise<void>;
}> {
  const root = await mkdtemp(join(tmpdir(), 'tbuild-store-'));
  const opened: Store[] = [];
  return {
    root,
    async open() {
      const store = await openStore({ root });
      opened.push(store);
      return store;
    },
    async cleanup() {
      for (const store of opened) store.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
