import { describe, expect, it } from 'vitest';
import { parseCacheSpec } from './cache.ts';

describe('buildx cache specs', () => {
  it('reads a bare reference as a registry cache, as buildx does', () => {
    expect(parseCacheSpec('localhost:5000/app:cache', 'from')).toEqual({
      type: 'registry',
      attrs: { ref: 'localhost:5000/app:cache' },
    });
  });

  it('keeps every attribute, booleans normalised', () => {
    expect(
      parseCacheSpec('type=registry,ref=r/app:c,mode=max,image-manifest=1,compression=zstd', 'to'),
    ).toEqual({
      type: 'registry',
      attrs: { ref: 'r/app:c', mode: 'max', 'image-manifest': 'true', compression: 'zstd' },
    });
    expect(parseCacheSpec('type=inline', 'to')).toEqual({ type: 'inline', attrs: {} });
  });

  it.each([
    ['type=local', 'to', /needs dest=/],
    ['type=local', 'from', /needs src=/],
    ['type=registry', 'from', /needs ref=/],
    ['type=local,dest=c,mode=all', 'to', /invalid --cache-to mode "all"/],
    ['type=local,dest=c,compression=lz4', 'to', /invalid --cache-to compression/],
    ['type=local,dest=c,ignore-error=maybe', 'to', /invalid --cache-to ignore-error/],
    ['type=inline', 'from', /unknown --cache-from type "inline"/],
    ['type=inline,mode=max', 'to', /mode=min only/],
    ['type=s3,bucket=b', 'to', /unknown --cache-to type "s3"/],
  ] as const)('refuses %s for --cache-%s', (spec, direction, message) => {
    expect(() => parseCacheSpec(spec, direction)).toThrow(message);
  });
});
