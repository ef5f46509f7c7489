/**
 * What each build step's cache key was last made of, by step identity, so a later miss
 * can say what changed (the solver's KeyHistory). The facts are opaque JSON here. Only
 * the newest rows are kept: enough for every step of the Dockerfiles this store builds.
 */
import type { StoreContext } from './context.ts';
import type { KeyHistoryStore } from './types.ts';

/** Rows kept; older ones are dropped as new ones come in. */
const KEEP = 20_000;
/** How many writes between trims. */
const TRIM_EVERY = 500;

export function createKeyHistory(ctx: StoreContext): KeyHistoryStore {
  const { db } = ctx;
  const select = db.prepare('SELECT facts FROM key_history WHERE identity = ?');
  const upsert = db.prepare(
    `INSERT INTO key_history (identity, facts, updated_at) VALUES (?, ?, ?)
     ON CONFLICT(identity) DO UPDATE SET facts = excluded.facts, updated_at = excluded.updated_at
     WHERE key_history.facts != excluded.facts`,
  );
  let writes = 0;
  return {
    get(identity) {
      const row = select.get(identity) as { facts: string } | undefined;
      return row?.facts;
    },
    put(identity, facts) {
      upsert.run(identity, facts, Date.now());
      if (++writes % TRIM_EVERY === 0) {
        db.prepare(
          `DELETE FROM key_history WHERE identity NOT IN
             (SELECT identity FROM key_history ORDER BY updated_at DESC LIMIT ?)`,
        ).run(KEEP);
      }
    },
  };
}
