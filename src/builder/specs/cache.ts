/**
 * buildx's `--cache-from` / `--cache-to` syntax: `type=local,dest=DIR`,
 * `type=registry,ref=REF,mode=max`, `type=inline`, `type=gha,scope=main`, or a bare
 * reference (`--cache-from REF` = `type=registry,ref=REF`).
 */
import type { CacheSpec, CacheType } from '../../remote-cache/index.ts';
import { UsageError } from '../../shared/errors.ts';
import { parseAttributes } from './csv.ts';

export const CACHE_TYPES: readonly CacheType[] = ['local', 'registry', 'inline', 'gha'];

const BOOLEANS = ['image-manifest', 'oci-mediatypes', 'force-compression', 'ignore-error'];

/** One `--cache-from` (`direction` 'from') or `--cache-to` ('to') value. */
export function parseCacheSpec(spec: string, direction: 'from' | 'to'): CacheSpec {
  const flag = `--cache-${direction}`;
  const example =
    direction === 'from' ? 'type=registry,ref=localhost:5000/app:cache' : 'type=local,dest=cache/';
  if (!spec.includes('=')) {
    if (!spec.trim())
      throw new UsageError(`${flag} needs a value`, { hint: `For example ${flag} ${example}.` });
    return { type: 'registry', attrs: { ref: spec.trim() } };
  }
  const { type: given, ...attrs } = parseAttributes(spec, flag, example);
  const type = (given ?? 'registry') as CacheType;
  if (!CACHE_TYPES.includes(type) || (type === 'inline' && direction === 'from'))
    throw new UsageError(`unknown ${flag} type "${given}"`, {
      hint:
        type === 'inline'
          ? `An inline cache is read from the image: --cache-from type=registry,ref=IMAGE.`
          : `Use one of ${CACHE_TYPES.filter((t) => direction === 'to' || t !== 'inline').join(', ')}.`,
    });
  const need = (name: string, sample: string) => {
    if (!attrs[name])
      throw new UsageError(`${flag} type=${type} needs ${name}=`, {
        hint: `For example ${flag} type=${type},${name}=${sample}.`,
      });
  };
  if (type === 'local') need(direction === 'from' ? 'src' : 'dest', 'cache/');
  if (type === 'registry') need('ref', 'localhost:5000/app:cache');
  if (attrs.mode !== undefined && !['min', 'max'].includes(attrs.mode))
    throw new UsageError(`invalid ${flag} mode "${attrs.mode}"`, {
      hint: 'Use mode=min or mode=max.',
    });
  if (type === 'inline' && attrs.mode === 'max')
    throw new UsageError('--cache-to type=inline supports mode=min only', {
      hint: 'An image carries the cache of its own layers; use type=registry for mode=max.',
    });
  if (
    attrs.compression !== undefined &&
    !['gzip', 'zstd', 'uncompressed'].includes(attrs.compression)
  )
    throw new UsageError(`invalid ${flag} compression "${attrs.compression}"`, {
      hint: 'Use compression=gzip, zstd or uncompressed.',
    });
  if (attrs['compression-level'] !== undefined && !/^\d+$/.test(attrs['compression-level']))
    throw new UsageError(`invalid ${flag} compression-level "${attrs['compression-level']}"`, {
      hint: 'Use a whole number (gzip 0-9, zstd 1-22).',
    });
  for (const name of BOOLEANS) {
    const value = attrs[name];
    if (value === undefined) continue;
    const lower = value.toLowerCase();
    if (!['true', 'false', '1', '0'].includes(lower))
      throw new UsageError(`invalid ${flag} ${name} "${value}"`, {
        hint: `Use ${name}=true or false.`,
      });
    attrs[name] = lower === 'true' || lower === '1' ? 'true' : 'false';
  }
  if (attrs.timeout !== undefined && !/^\d+(ms|s|m|h)?$/.test(attrs.timeout))
    throw new UsageError(`invalid ${flag} timeout "${attrs.timeout}"`, {
      hint: 'Use a duration such as timeout=10m (Go syntax: 90s, 10m, 1h).',
    });
  return { type, attrs };
}
