/**
 * The solver's result cache on the store's cache index: key → snapshots. A record whose
 * snapshot has gone (pruned), or whose layers can be had neither from their directories,
 * their blobs nor a cache imported by this process, is a miss, never an error.
 */
import type { CachedResult, Store } from '../cache/types.ts';
import type { ResultCache } from '../solver/types.ts';
import { isRestorable } from './lazy-layers.ts';
import type { Ref } from './types.ts';

export function createResultCache(store: Store): ResultCache<Ref> {
  return {
    async get(key) {
      const record = store.cache.get(key);
      if (!record) return undefined;
      const refs: Ref[] = [];
      for (const result of record.results) {
        if ('empty' in result) refs.push({ kind: 'empty' });
        else if (
          store.snapshots.get(result.snapshot)?.committed &&
          // A lazy layer (ADR 11) another process imported and never fetched cannot be had.
          store.snapshots.chain(result.snapshot).every((s) => isRestorable(store, s))
        ) {
          refs.push({ kind: 'snapshot', id: result.snapshot });
          store.snapshots.touch(result.snapshot);
        } else return undefined;
      }
      return refs;
    },
    async put(key, results) {
      const cached: CachedResult[] = [];
      for (const ref of results) {
        if (ref.kind === 'local') return;
        cached.push(ref.kind === 'empty' ? { empty: true } : { snapshot: ref.id });
      }
      store.cache.put(key, cached);
    },
  };
}
