/**
 * Cache import: the solver's result cache, backed by the store first and by the caches
 * of `--cache-from` second. Import is lazy: loading a cache reads only its config; a
 * step's layers are fetched and unpacked when the solver asks for that step's result
 * (a hit it uses), and a fully cached build asks for the root's only.
 *
 * A cache that cannot be used (a blob whose digest does not match, a layer that does
 * not unpack to its diff_id, an unreachable registry) is a warning: the step misses and
 * runs, and the build is never built on a bad layer.
 */
import type { SnapshotId, Store } from '../cache/types.ts';
import { unpackInto } from '../engine/images.ts';
import type { Ref } from '../engine/types.ts';
import type { Digest } from '../shared/digest.ts';
import type { ProgressSink } from '../shared/progress.ts';
import type { ResultCache } from '../solver/types.ts';
import { readCacheConfig } from './cache-config.ts';
import type { ChainLayer, LoadedCache } from './types.ts';

interface Entry {
  cache: LoadedCache;
  chain: ChainLayer[];
}

export interface ImportOptions {
  emit: ProgressSink;
  signal: AbortSignal;
}

/** What an import did, for --metadata-file and tests. */
export interface ImportStats {
  /** Steps answered from an imported cache. */
  hits: number;
  layersFetched: number;
  layersUnpacked: number;
}

/**
 * `inner` (the store's result cache) with the records of `caches` behind it. Imported
 * hits become records of the store, so the next build (and a re-export) finds them there.
 */
export function withImportedCaches(
  inner: ResultCache<Ref>,
  store: Store,
  caches: readonly LoadedCache[],
  options: ImportOptions,
): { cache: ResultCache<Ref>; stats: ImportStats } {
  const stats: ImportStats = { hits: 0, layersFetched: 0, layersUnpacked: 0 };
  const warned = new Set<string>();
  const warnOnce = (message: string) => {
    if (warned.has(message)) return;
    warned.add(message);
    warn(options.emit, message);
  };
  const entries = new Map<Digest, Entry>();
  // Keys by their chain's blobs, to record ancestors of a materialised chain too.
  const bySignature = new Map<string, Digest[]>();
  for (const cache of caches) {
    let records: Map<Digest, ChainLayer[]>;
    try {
      records = readCacheConfig(cache.config, cache.name);
    } catch (error) {
      warn(options.emit, `${(error as Error).message}; building without it`);
      continue;
    }
    for (const [key, chain] of records) {
      if (entries.has(key)) continue;
      entries.set(key, { cache, chain });
      const signature = signatureOf(chain);
      bySignature.set(signature, [...(bySignature.get(signature) ?? []), key]);
    }
  }
  // One unpack per (parent snapshot, blob) while this build runs, however many steps need it.
  const unpacking = new Map<string, Promise<SnapshotId>>();

  // One download per blob; downloads run ahead while earlier layers unpack.
  const fetching = new Map<Digest, Promise<void>>();
  const fetchOnce = (entry: Entry, layer: ChainLayer): Promise<void> => {
    let pending = fetching.get(layer.descriptor.digest);
    if (!pending) {
      pending = fetchLayer(store, entry.cache, layer, options, stats);
      pending.catch(() => undefined);
      fetching.set(layer.descriptor.digest, pending);
    }
    return pending;
  };

  const layerOn = (entry: Entry, parent: SnapshotId | null, layer: ChainLayer) => {
    const id = `${parent} ${layer.descriptor.digest}`;
    let pending = unpacking.get(id);
    if (!pending) {
      // A failure is kept: every step on a bad layer misses, without fetching it again.
      pending = unpackLayer(store, entry.cache, parent, layer, (l) => fetchOnce(entry, l), stats);
      pending.catch(() => undefined);
      unpacking.set(id, pending);
    }
    return pending;
  };

  const materialize = async (key: Digest, entry: Entry): Promise<Ref[]> => {
    if (entry.chain.length === 0) {
      store.cache.put(key, [{ empty: true }], `imported from ${entry.cache.name}`);
      return [{ kind: 'empty' }];
    }
    // Start the downloads of the layers not unpacked here yet, all at once.
    let below: SnapshotId | null = null;
    for (const [i, layer] of entry.chain.entries()) {
      const existing = store.snapshots.findByDiffId(below, layer.diffId);
      if (existing) {
        below = existing.id;
        continue;
      }
      for (const missing of entry.chain.slice(i)) void fetchOnce(entry, missing);
      break;
    }
    let parent: SnapshotId | null = null;
    const ids: SnapshotId[] = [];
    for (const layer of entry.chain) {
      parent = await layerOn(entry, parent, layer);
      ids.push(parent);
    }
    // This record, and every imported record whose result is a prefix of this chain.
    for (let depth = 1; depth <= ids.length; depth++) {
      const signature = signatureOf(entry.chain.slice(0, depth));
      for (const k of bySignature.get(signature) ?? [])
        if (k === key || !store.cache.get(k))
          store.cache.put(k, [{ snapshot: ids[depth - 1]! }], `imported from ${entry.cache.name}`);
    }
    return [{ kind: 'snapshot', id: parent! }];
  };

  return {
    stats,
    cache: {
      async get(key) {
        const local = await inner.get(key);
        if (local || entries.size === 0) return local;
        const entry = entries.get(key);
        if (!entry) return undefined;
        try {
          const refs = await materialize(key, entry);
          stats.hits++;
          return refs;
        } catch (error) {
          if (options.signal.aborted) throw error;
          warnOnce(
            `cache ${entry.cache.name}: ${(error as Error).message}; the steps on it run instead`,
          );
          entries.delete(key);
          return undefined;
        }
      },
      put: (key, results) => inner.put(key, results),
    },
  };
}

/** One layer of an imported chain as a snapshot on `parent` (reused when already there). */
async function unpackLayer(
  store: Store,
  cache: LoadedCache,
  parent: SnapshotId | null,
  layer: ChainLayer,
  fetched: (layer: ChainLayer) => Promise<void>,
  stats: ImportStats,
): Promise<SnapshotId> {
  const existing = store.snapshots.findByDiffId(parent, layer.diffId);
  if (existing) return existing.id;
  const { digest, size, mediaType } = layer.descriptor;
  await fetched(layer);
  const id = await unpackInto(
    store,
    parent,
    digest,
    layer.diffId,
    mediaType,
    size,
    `cache ${cache.name}`,
    undefined,
    layer.createdAt || undefined,
  );
  stats.layersUnpacked++;
  return id;
}

/** A layer's blob into the store (digest checked by ingest), unless it is there. */
async function fetchLayer(
  store: Store,
  cache: LoadedCache,
  layer: ChainLayer,
  options: ImportOptions,
  stats: ImportStats,
): Promise<void> {
  const { digest, size } = layer.descriptor;
  if (await store.blobs.has(digest)) return;
  const id = `cache-layer-${digest.slice(7, 19)}`;
  const started = Date.now();
  const name = `importing cache layer ${digest} from ${cache.name}`;
  options.emit({ type: 'task.started', time: started, id, name });
  const stream = await cache.fetchBlob(layer.descriptor, options.signal);
  await store.blobs.ingest(stream, { digest, size });
  stats.layersFetched++;
  options.emit({
    type: 'task.completed',
    time: Date.now(),
    id,
    name,
    durationMs: Date.now() - started,
  });
}

function signatureOf(chain: readonly ChainLayer[]): string {
  return chain.map((l) => l.descriptor.digest).join(' ');
}

function warn(emit: ProgressSink, message: string): void {
  emit({ type: 'warning', time: Date.now(), message });
}
