/**
 * Cache import: the solver's result cache, backed by the store first and by the caches
 * of `--cache-from` second. Import is lazy: loading a cache reads only its config; a hit
 * becomes lazy snapshots (engine/lazy-layers.ts) whose blobs are fetched and unpacked
 * only when a step runs on them or an output needs their bytes. A fully cached build
 * that pushes to the registry the cache came from moves no layer at all.
 *
 * A cache that cannot be used (a blob whose digest does not match, a layer that does
 * not unpack to its diff_id, an unreachable registry) is a warning: the step misses and
 * runs, and the build is never built on a bad layer.
 */
import type { Readable } from 'node:stream';
import type { SnapshotId, Store } from '../cache/types.ts';
import {
  createLazySnapshot,
  fetchLazyBlob,
  forgetLazyLayer,
  hasStoredBlob,
  isRestorable,
  isUnpacked,
  registerLazyLayer,
  type LazyLayerSource,
} from '../engine/lazy-layers.ts';
import { snapshotChain } from '../engine/store-check.ts';
import type { Ref } from '../engine/types.ts';
import type { Digest } from '../shared/digest.ts';
import type { ProgressSink } from '../shared/progress.ts';
import type { ResultCache } from '../solver/types.ts';
import { readCacheConfig } from './cache-config.ts';
import { InvalidCacheError } from './errors.ts';
import type { ChainLayer, LoadedCache } from './types.ts';

interface Entry {
  cache: LoadedCache;
  chain: ChainLayer[];
}

export interface ImportOptions {
  emit: ProgressSink;
  signal: AbortSignal;
  /**
   * Leave a result's layers unfetched: the build's outputs only push, and a push mounts
   * them from the cache's registry (or streams them from the cache). Otherwise a result
   * hit fetches its blobs (the store keeps them for the image it names), checked then,
   * so a bad blob is a miss and the step is built instead.
   */
  lazyResults?: boolean;
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
  // One snapshot per (parent snapshot, blob) while this build runs, however many steps
  // need it: lazy (nothing fetched) until a mount or an output needs its files.
  const layers = new Map<string, Promise<SnapshotId>>();
  const sources = new Map<Digest, LazyLayerSource>();
  const sourceOf = (entry: Entry, layer: ChainLayer): LazyLayerSource => {
    let source = sources.get(layer.descriptor.digest);
    if (!source) {
      source = {
        descriptor: layer.descriptor,
        what: entry.cache.name,
        ...(entry.cache.registryRepo ? { registryRepo: entry.cache.registryRepo } : {}),
        fetch: (signal) => fetchLayer(entry.cache, layer, options, stats, signal),
      };
      sources.set(layer.descriptor.digest, source);
    }
    return source;
  };
  const layerOn = (entry: Entry, parent: SnapshotId | null, layer: ChainLayer) => {
    const id = `${parent} ${layer.descriptor.digest}`;
    let pending = layers.get(id);
    if (!pending) {
      pending = lazyLayerOn(store, entry.cache, parent, layer, sourceOf(entry, layer));
      pending.catch(() => undefined);
      layers.set(id, pending);
    }
    return pending;
  };

  // Before the first miss, a hit is a graph's result, needed only if an output wants its
  // files. After one, a hit is the input of a step that runs on it: its layers are
  // fetched and unpacked now, so a bad blob is a miss and the step is built instead.
  let missed = false;
  const materialize = async (key: Digest, entry: Entry): Promise<Ref[]> => {
    if (entry.chain.length === 0) {
      store.cache.put(key, [{ empty: true }], `imported from ${entry.cache.name}`);
      return [{ kind: 'empty' }];
    }
    let parent: SnapshotId | null = null;
    const ids: SnapshotId[] = [];
    for (const layer of entry.chain) {
      parent = await layerOn(entry, parent, layer);
      ids.push(parent);
    }
    const lazy = ids.filter((id) => !isUnpacked(store.snapshots.get(id)!));
    try {
      if (missed) await snapshotChain(store, parent!);
      else if (!options.lazyResults)
        await Promise.all(
          lazy.map(async (id) => {
            if (hasStoredBlob(store, id) || (await fetchLazyBlob(store, id, options.signal)))
              return;
            throw new InvalidCacheError(
              entry.cache.name,
              'a layer of this step was refused earlier',
            );
          }),
        );
    } catch (error) {
      // A layer that gives bad bytes is not used again: steps on it miss.
      for (const id of lazy) if (!hasStoredBlob(store, id)) forgetLazyLayer(store, id);
      throw error;
    }
    if (missed) stats.layersUnpacked += lazy.length;
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
        if (!entry) {
          missed = true;
          return undefined;
        }
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
          missed = true;
          return undefined;
        }
      },
      put: (key, results) => inner.put(key, results),
    },
  };
}

/**
 * One layer of an imported chain as a snapshot on `parent`: the one there (given the
 * source, should it have neither files nor blob), else a lazy one.
 */
async function lazyLayerOn(
  store: Store,
  cache: LoadedCache,
  parent: SnapshotId | null,
  layer: ChainLayer,
  source: LazyLayerSource,
): Promise<SnapshotId> {
  const existing = store.snapshots.findByDiffId(parent, layer.diffId);
  if (existing) {
    if (!isRestorable(store, existing)) registerLazyLayer(store, existing.id, source);
    return existing.id;
  }
  return createLazySnapshot(
    store,
    parent,
    {
      diffId: layer.diffId,
      description: `layer ${layer.diffId.slice(7, 19)} of cache ${cache.name}`,
      ...(layer.createdAt ? { createdAt: layer.createdAt } : {}),
    },
    source,
  );
}

/** A layer's blob from the cache, with a progress task while it downloads. */
async function fetchLayer(
  cache: LoadedCache,
  layer: ChainLayer,
  options: ImportOptions,
  stats: ImportStats,
  signal: AbortSignal | undefined,
): Promise<Readable> {
  const { digest } = layer.descriptor;
  const id = `cache-layer-${digest.slice(7, 19)}-${Date.now()}`;
  const started = Date.now();
  const name = `importing cache layer ${digest} from ${cache.name}`;
  options.emit({ type: 'task.started', time: started, id, name });
  let completed = false;
  const done = () => {
    if (completed) return;
    completed = true;
    options.emit({
      type: 'task.completed',
      time: Date.now(),
      id,
      name,
      durationMs: Date.now() - started,
    });
  };
  let stream: Readable;
  try {
    stream = await cache.fetchBlob(layer.descriptor, signal ?? options.signal);
  } catch (error) {
    done();
    throw error;
  }
  stats.layersFetched++;
  stream.once('end', done);
  stream.once('error', done);
  stream.once('close', done);
  return stream;
}

function signatureOf(chain: readonly ChainLayer[]): string {
  return chain.map((l) => l.descriptor.digest).join(' ');
}

function warn(emit: ProgressSink, message: string): void {
  emit({ type: 'warning', time: Date.now(), message });
}
