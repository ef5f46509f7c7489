/**
 * tbuild's cache records ↔ BuildKit's cache config. A record's result is its top layer;
 * the chain below follows each layer's `parent`, so records that share a base share
 * its layers. Keys are tbuild's own cache keys: records have no `inputs` (ADR 11).
 */
import type { Digest } from '../shared/digest.ts';
import { isDigest } from '../shared/digest.ts';
import type { Descriptor } from '../shared/oci.ts';
import { InvalidCacheError } from './errors.ts';
import type { CacheConfig, CacheLayer, ChainLayer, ExportRecord } from './types.ts';

/** The cache config of `records` and the blobs it names (each layer once). */
export function buildCacheConfig(records: readonly ExportRecord[]): {
  config: CacheConfig;
  blobs: Descriptor[];
} {
  const layers: CacheLayer[] = [];
  const blobs = new Map<Digest, Descriptor>();
  // A layer is the same layer only on the same parent: key by (parent index, blob).
  const indexOf = new Map<string, number>();
  const sorted = [...records].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const configRecords = sorted.map((record) => {
    let parent = -1;
    for (const layer of record.chain) {
      const id = `${parent} ${layer.descriptor.digest}`;
      let index = indexOf.get(id);
      if (index === undefined) {
        index = layers.length;
        layers.push({
          blob: layer.descriptor.digest,
          ...(parent >= 0 ? { parent } : { parent: -1 }),
          annotations: {
            mediaType: layer.descriptor.mediaType,
            diffID: layer.diffId,
            size: layer.descriptor.size,
            createdAt: new Date(layer.createdAt).toISOString(),
          },
        });
        indexOf.set(id, index);
        blobs.set(layer.descriptor.digest, {
          mediaType: layer.descriptor.mediaType,
          digest: layer.descriptor.digest,
          size: layer.descriptor.size,
        });
      }
      parent = index;
    }
    return parent < 0
      ? { digest: record.key, chains: [{ layers: [] }] }
      : { digest: record.key, layers: [{ layer: parent }] };
  });
  return { config: { layers, records: configRecords }, blobs: [...blobs.values()] };
}

/**
 * Every record of a cache config as key → layer chain (base first). Records tbuild did
 * not write (BuildKit's own, with inputs or several results) are skipped; a config that
 * is not one at all is refused.
 */
export function readCacheConfig(config: unknown, from: string): Map<Digest, ChainLayer[]> {
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw new InvalidCacheError(from, 'the cache config is not a JSON object');
  const { layers = [], records = [] } = config as CacheConfig;
  if (!Array.isArray(layers) || !Array.isArray(records))
    throw new InvalidCacheError(from, '"layers" and "records" must be arrays');
  const chains = new Map<number, ChainLayer[]>();
  const chainOf = (index: number, depth = 0): ChainLayer[] => {
    const known = chains.get(index);
    if (known) return known;
    const layer = layers[index];
    if (!layer || depth > layers.length || !isDigestText(layer.blob))
      throw new InvalidCacheError(from, `layer ${index} is missing or names no blob digest`);
    const a = layer.annotations ?? {};
    if (!isDigestText(a.diffID) || typeof a.size !== 'number' || !a.mediaType)
      throw new InvalidCacheError(from, `layer ${index} lacks its mediaType, diffID or size`);
    const parent = layer.parent ?? -1;
    const below = parent >= 0 ? chainOf(parent, depth + 1) : [];
    const created = a.createdAt ? Date.parse(a.createdAt) : NaN;
    const chain = [
      ...below,
      {
        descriptor: { mediaType: a.mediaType, digest: layer.blob, size: a.size },
        diffId: a.diffID,
        createdAt: Number.isNaN(created) ? 0 : created,
      },
    ];
    chains.set(index, chain);
    return chain;
  };
  const byKey = new Map<Digest, ChainLayer[]>();
  for (const record of records) {
    if (!record || !isDigestText(record.digest) || (record.inputs?.length ?? 0) > 0) continue;
    const results = record.layers ?? [];
    const chained = record.chains ?? [];
    if (results.length === 1 && chained.length === 0) {
      byKey.set(record.digest, chainOf(results[0]!.layer));
    } else if (results.length === 0 && chained.length === 1 && chained[0]!.layers.length === 0) {
      byKey.set(record.digest, []);
    }
  }
  return byKey;
}

function isDigestText(value: unknown): value is Digest {
  return typeof value === 'string' && isDigest(value);
}
