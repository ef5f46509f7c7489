/**
 * The attributes an `--output` may carry besides type, dest, name and push, checked once
 * where the output is resolved: an attribute tbuild does not know (or does not honour for
 * that type) is a usage error, never ignored. Image attributes (`compression`,
 * `compression-level`, `force-compression`, `oci-mediatypes`, `rewrite-timestamp`) mean
 * the same for every output that writes image blobs: image, registry, docker and oci.
 */
import { UsageError } from '../../shared/errors.ts';
import type { OutputSpec, OutputType } from '../types.ts';

export type LayerCompression = 'gzip' | 'zstd' | 'uncompressed';

/** What an output wants of the image's blobs, resolved from its attributes. */
export interface ImageAttributes {
  compression: LayerCompression;
  compressionLevel?: number;
  /** Recompress layers that already have a blob of another compression (base layers). */
  forceCompression: boolean;
  ociMediaTypes: boolean;
  rewriteTimestamps: boolean;
}

const IMAGE_ATTRIBUTES = [
  'compression',
  'compression-level',
  'force-compression',
  'oci-mediatypes',
  'rewrite-timestamp',
] as const;

/** Attributes each output type honours, beyond type, dest, name and push. */
const ALLOWED: Readonly<Record<OutputType, readonly string[]>> = {
  image: IMAGE_ATTRIBUTES,
  registry: IMAGE_ATTRIBUTES,
  docker: IMAGE_ATTRIBUTES,
  oci: [...IMAGE_ATTRIBUTES, 'tar'],
  local: [],
  tar: ['rewrite-timestamp'],
};

const BOOLEAN = new Set(['force-compression', 'oci-mediatypes', 'rewrite-timestamp', 'tar']);
const COMPRESSIONS: readonly LayerCompression[] = ['gzip', 'zstd', 'uncompressed'];
/** Highest level per compression, as BuildKit takes them (gzip 0–9, zstd 0–22). */
const MAX_LEVEL: Readonly<Record<LayerCompression, number>> = {
  gzip: 9,
  zstd: 22,
  uncompressed: 0,
};

/** Throw a usage error for an attribute `output.type` does not take, or a bad value. */
export function checkOutputAttributes(output: OutputSpec): void {
  const allowed = ALLOWED[output.type];
  for (const [key, value] of Object.entries(output.attrs)) {
    if (!allowed.includes(key)) {
      throw new UsageError(`--output type=${output.type} does not take the attribute "${key}"`, {
        hint:
          allowed.length === 0
            ? `type=${output.type} takes only dest=.`
            : `type=${output.type} takes ${allowed.join(', ')} besides type, dest${hasNames(output.type) ? ', name' : ''}${output.type === 'image' ? ', push' : ''}.`,
      });
    }
    if (BOOLEAN.has(key) && value !== 'true' && value !== 'false') {
      throw new UsageError(`--output ${key}=${value}: expected true or false`);
    }
  }
  if (ALLOWED[output.type].includes('compression')) imageAttributes(output);
}

function hasNames(type: OutputType): boolean {
  return type === 'image' || type === 'registry' || type === 'docker' || type === 'oci';
}

/**
 * The image attributes of an output, with BuildKit's defaults: gzip, Docker media types
 * except for `type=oci`, and OCI media types turned on for zstd (Docker has none for it).
 */
export function imageAttributes(output: OutputSpec): ImageAttributes {
  const { attrs } = output;
  const compression = (attrs.compression ?? 'gzip') as LayerCompression;
  if (!COMPRESSIONS.includes(compression)) {
    throw new UsageError(`unknown compression "${attrs.compression}"`, {
      hint: `Use ${COMPRESSIONS.join(', ')}${attrs.compression === 'estargz' ? ' (tbuild does not write estargz)' : ''}.`,
    });
  }
  const level = attrs['compression-level'];
  let compressionLevel: number | undefined;
  if (level !== undefined) {
    compressionLevel = Number(level);
    const max = MAX_LEVEL[compression];
    if (!/^\d+$/.test(level) || compressionLevel > max) {
      throw new UsageError(`compression-level=${level} is not a level of ${compression}`, {
        hint:
          compression === 'uncompressed'
            ? 'Uncompressed layers take no level; drop compression-level.'
            : `${compression} takes 0 to ${max}.`,
      });
    }
  }
  const oci = attrs['oci-mediatypes'];
  if (compression === 'zstd' && oci === 'false') {
    throw new UsageError('zstd-compressed layers need OCI media types', {
      hint: 'Drop oci-mediatypes=false (zstd turns OCI media types on), or use compression=gzip.',
    });
  }
  return {
    compression,
    ...(compressionLevel !== undefined ? { compressionLevel } : {}),
    forceCompression: attrs['force-compression'] === 'true',
    ociMediaTypes:
      oci !== undefined ? oci === 'true' : output.type === 'oci' || compression === 'zstd',
    rewriteTimestamps: attrs['rewrite-timestamp'] === 'true',
  };
}
