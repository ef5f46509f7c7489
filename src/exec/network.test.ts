/**
 * The RUN network pool with real namespaces: `unshare --net` holders and slirp4netns
 * (root only; skipped otherwise). Holders are `cat` children of this process.
 */
import { execFileSync } from 'node:child_process';
import { readlink } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { createNetworkPool } from './network.ts';

const root = process.getuid?.() === 0;

/** This process's namespace holders (`cat` children). */
function holders(): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(process.pid), '-x', 'cat'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe.skipIf(!root)('network pool (needs root)', () => {
  it('hands the namespace warm() made to the next acquire(), and makes no second one', async () => {
    const pool = createNetworkPool();
    try {
      pool.warm();
      pool.warm(); // one on its way already: nothing more
      const lease = await pool.acquire();
      expect(holders()).toHaveLength(1);
      expect(await readlink(lease.path)).not.toBe(await readlink('/proc/self/ns/net'));
      const second = await pool.acquire(); // none idle: a new one
      expect(second.path).not.toBe(lease.path);
      expect(holders()).toHaveLength(2);
      lease.release();
      second.release();
    } finally {
      await pool.close();
    }
    expect(holders()).toEqual([]);
  });

  it('stops a namespace that was warmed but never used when the pool closes', async () => {
    const pool = createNetworkPool();
    pool.warm();
    await pool.close();
    expect(holders()).toEqual([]);
    await expect(pool.acquire()).rejects.toThrow(/ended/);
  });
});
