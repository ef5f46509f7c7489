import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CancelledError } from '../shared/errors.ts';
import { DEAD_PID, createTempRoot } from './test-helpers.ts';
import type { Store } from './types.ts';

let temp: Awaited<ReturnType<typeof createTempRoot>>;
let store: Store;
beforeEach(async () => {
  temp = await createTempRoot();
  store = await temp.open();
});
afterEach(() => temp.cleanup());

describe('locks', () => {
  it('lets one holder in at a time and the next in on release', async () => {
    const order: string[] = [];
    const release = await store.lock('cache-mount');
    const waiting = store.lock('cache-mount').then((r) => {
      order.push('second');
      return r;
    });
    await new Promise((r) => setTimeout(r, 50));
    order.push('first releases');
    await release();
    await (
      await waiting
    )();
    expect(order).toEqual(['first releases', 'second']);
  });

  it('tryLock takes a free lock and refuses a held one without waiting', async () => {
    const held = store.tryLock('private');
    expect(held).toBeDefined();
    expect(store.tryLock('private')).toBeUndefined();
    await held!();
    const again = store.tryLock('private');
    expect(again).toBeDefined();
    await again!();
  });

  it('does not block on other names', async () => {
    const a = await store.lock('a');
    const b = await store.lock('b');
    await a();
    await b();
  });

  it('stops waiting when the signal aborts', async () => {
    const release = await store.lock('x');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    await expect(store.lock('x', controller.signal)).rejects.toBeInstanceOf(CancelledError);
    await release();
  });

  it('takes over a lock whose holder died', async () => {
    const db = new DatabaseSync(join(temp.root, 'tbuild.db'));
    db.prepare(`INSERT INTO locks VALUES ('held', 't', ?, 1, 0)`).run(DEAD_PID);
    db.close();
    const release = await store.lock('held');
    await release();
  });
});
