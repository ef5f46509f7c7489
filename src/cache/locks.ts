/**
 * Cross-process named locks, kept as rows of the database: (name, token, owner). A lock
 * whose owner process is gone is free, so a killed build never wedges the store. Waiters
 * poll with backoff and give up when their signal aborts.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CancelledError } from '../shared/errors.ts';
import type { StoreContext } from './context.ts';
import { withTransaction } from './database.ts';
import { currentProcess, isProcessAlive } from './process-lease.ts';

interface LockRow {
  token: string;
  owner_pid: number;
  owner_start: number;
}

/** Take the lock `name`, waiting as long as it takes (or until `signal` aborts). */
export async function acquireLock(
  ctx: StoreContext,
  name: string,
  signal?: AbortSignal,
): Promise<() => Promise<void>> {
  const token = randomBytes(8).toString('hex');
  let delay = 5;
  while (!tryAcquire(ctx, name, token)) {
    if (signal?.aborted) throw new CancelledError(`waiting for lock "${name}" was cancelled`);
    try {
      await sleep(delay, undefined, signal ? { signal } : undefined);
    } catch (error) {
      if (signal?.aborted)
        throw new CancelledError(`waiting for lock "${name}" was cancelled`, { cause: error });
      throw error;
    }
    delay = Math.min(250, Math.ceil(delay * 1.5));
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    ctx.db.prepare('DELETE FROM locks WHERE name = ? AND token = ?').run(name, token);
  };
}

/** acquireLock without waiting: the release function, or undefined when another process holds it. */
export function tryAcquireLock(ctx: StoreContext, name: string): (() => Promise<void>) | undefined {
  const token = randomBytes(8).toString('hex');
  if (!tryAcquire(ctx, name, token)) return undefined;
  return async () => {
    ctx.db.prepare('DELETE FROM locks WHERE name = ? AND token = ?').run(name, token);
  };
}

function tryAcquire(ctx: StoreContext, name: string, token: string): boolean {
  const me = currentProcess();
  return withTransaction(ctx.db, () => {
    const row = ctx.db
      .prepare('SELECT token, owner_pid, owner_start FROM locks WHERE name = ?')
      .get(name) as LockRow | undefined;
    if (row && isProcessAlive({ pid: row.owner_pid, startTime: row.owner_start })) return false;
    ctx.db
      .prepare(
        'INSERT OR REPLACE INTO locks (name, token, owner_pid, owner_start, acquired_at) VALUES (?, ?, ?, ?, ?)',
      )
      .run(name, token, me.pid, me.startTime, Date.now());
    return true;
  });
}

/** Drop every lock this process holds (on close, so a long-lived process does not keep them). */
export function releaseOwnLocks(ctx: StoreContext): void {
  const me = currentProcess();
  ctx.db
    .prepare('DELETE FROM locks WHERE owner_pid = ? AND owner_start = ?')
    .run(me.pid, me.startTime);
}
