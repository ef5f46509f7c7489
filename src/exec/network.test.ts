/**
 * The RUN network pool with real namespaces: `unshare --net` holders and slirp4netns
 * (root only; skipped otherwise). Holders are `cat` children of this process.
 */
import { execFileSync, spawnSync } from 'node:child_process';
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
    await waitFor(() => holders().length === 0); // killed; reaped when Node hears
    expect(holders()).toEqual([]);
  });

  it('stops a namespace that was warmed but never used when the pool closes', async () => {
    const pool = createNetworkPool();
    pool.warm();
    await pool.close();
    await waitFor(() => holders().length === 0); // stopped once made, not waited for
    expect(holders()).toEqual([]);
    await expect(pool.acquire()).rejects.toThrow(/closed/);
  });

  it('hands out a released namespace again, but not one whose processes died', async () => {
    const pool = createNetworkPool();
    try {
      const first = await pool.acquire();
      first.release();
      const again = await pool.acquire(); // a later build of the same builder
      expect(again.path).toBe(first.path);
      again.release();
      const [holder] = holders();
      process.kill(holder!, 'SIGKILL');
      await waitFor(() => holders().length === 0);
      const fresh = await pool.acquire();
      expect(fresh.path).not.toBe(first.path);
      expect(await readlink(fresh.path)).not.toBe(await readlink('/proc/self/ns/net'));
      fresh.release();
    } finally {
      await pool.close();
    }
    await waitFor(() => holders().length === 0); // killed; reaped when Node hears
    expect(holders()).toEqual([]);
  });

  it('closes in a program with nothing else to do, and the program ends normally', () => {
    // Idle namespaces do not hold the event loop, and close() does not wait for them.
    const program = `
      const { createNetworkPool } = await import(${JSON.stringify(new URL('./network.ts', import.meta.url).href)});
      const pool = createNetworkPool();
      (await pool.acquire()).release();
      await pool.close();
      process.stdout.write('closed\\n');
    `;
    const result = spawnSync(
      process.execPath,
      ['--experimental-strip-types', '--no-warnings', '--input-type=module', '-e', program],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('closed');
    expect(result.status).toBe(0);
  });

  it('does not keep the process alive with an idle namespace, and its helpers end with it', async () => {
    // A program that leaves a namespace idle in its pool and never closes the pool.
    const program = `
      const { createNetworkPool } = await import(${JSON.stringify(new URL('./network.ts', import.meta.url).href)});
      const pool = createNetworkPool();
      const lease = await pool.acquire();
      lease.release();
      process.stdout.write(lease.path + '\\n');
    `;
    const started = Date.now();
    const result = spawnSync(
      process.execPath,
      ['--experimental-strip-types', '--no-warnings', '--input-type=module', '-e', program],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(result.status).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
    // Its holder (`cat` reading a pipe from the program) ends once the program is gone.
    const holder = Number(/^\/proc\/(\d+)\/ns\/net$/.exec(result.stdout.trim())?.[1]);
    expect(holder).toBeGreaterThan(0);
    await waitFor(() => !isAlive(holder));
    expect(isAlive(holder)).toBe(false);
  });
});

async function waitFor(done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
