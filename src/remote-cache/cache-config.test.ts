import { describe, expect, it } from 'vitest';
import { sha256 } from '../shared/digest.ts';
import { buildCacheConfig, readCacheConfig } from './cache-config.ts';
import type { ChainLayer, ExportRecord } from './types.ts';

const layer = (name: string, createdAt = 1_700_000_000_000): ChainLayer => ({
  descriptor: {
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    digest: sha256(`blob ${name}`),
    size: name.length,
  },
  diffId: sha256(`tar ${name}`),
  createdAt,
});

describe('the BuildKit cache config of tbuild records', () => {
  const base = layer('base');
  const run = layer('run', 1_700_000_001_000);
  const copy = layer('copy', 1_700_000_002_000);
  const records: ExportRecord[] = [
    { key: sha256('k-run'), chain: [base, run] },
    { key: sha256('k-copy'), chain: [base, run, copy] },
    { key: sha256('k-empty'), chain: [] },
  ];

  it('shares the layers records have in common and names each blob once', () => {
    const { config, blobs } = buildCacheConfig(records);
    expect(config.layers).toHaveLength(3);
    expect(blobs.map((b) => b.digest).sort()).toEqual(
      [base, run, copy].map((l) => l.descriptor.digest).sort(),
    );
    expect(config.records?.find((r) => r.digest === sha256('k-empty'))).toEqual({
      digest: sha256('k-empty'),
      chains: [{ layers: [] }],
    });
  });

  it('reads back every record as its chain, base first, with the layers’ times', () => {
    const { config } = buildCacheConfig(records);
    const read = readCacheConfig(JSON.parse(JSON.stringify(config)), 'test');
    expect(read.get(sha256('k-copy'))).toEqual([base, run, copy]);
    expect(read.get(sha256('k-run'))).toEqual([base, run]);
    expect(read.get(sha256('k-empty'))).toEqual([]);
  });

  it('skips BuildKit records it cannot use (with inputs) and refuses broken layer links', () => {
    const { config } = buildCacheConfig(records);
    config.records!.push({ digest: sha256('bk'), inputs: [[{ selector: '', link: 0 }]] });
    expect(readCacheConfig(config, 'test').has(sha256('bk'))).toBe(false);
    const broken = { ...config, records: [{ digest: sha256('x'), layers: [{ layer: 9 }] }] };
    expect(() => readCacheConfig(broken, 'test')).toThrow(/layer 9 is missing/);
    expect(() => readCacheConfig('nope', 'test')).toThrow(/not a JSON object/);
  });
});
