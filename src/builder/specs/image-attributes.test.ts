import { describe, expect, it } from 'vitest';
import { imageAttributes } from './image-attributes.ts';
import { parseOutputSpec } from './outputs.ts';

const attributesOf = (spec: string) => imageAttributes(parseOutputSpec(spec));

describe('output attributes', () => {
  it('take BuildKit defaults: gzip with Docker media types, OCI ones for type=oci', () => {
    expect(attributesOf('type=image,name=r/a,push=true')).toEqual({
      compression: 'gzip',
      forceCompression: false,
      ociMediaTypes: false,
      rewriteTimestamps: false,
    });
    expect(attributesOf('type=oci,dest=x.tar').ociMediaTypes).toBe(true);
    expect(attributesOf('type=docker,dest=x.tar').ociMediaTypes).toBe(false);
  });

  it('honour compression, level, force-compression, oci-mediatypes and rewrite-timestamp on pushes', () => {
    expect(
      attributesOf(
        'type=registry,name=r/a,compression=zstd,compression-level=19,force-compression=true,rewrite-timestamp=true',
      ),
    ).toEqual({
      compression: 'zstd',
      compressionLevel: 19,
      forceCompression: true,
      // zstd turns OCI media types on, as BuildKit does: Docker has no zstd layer type.
      ociMediaTypes: true,
      rewriteTimestamps: true,
    });
    expect(attributesOf('type=image,name=r/a,oci-mediatypes=true').ociMediaTypes).toBe(true);
  });

  it('refuse an attribute the output type does not take, naming what it takes', () => {
    expect(() => parseOutputSpec('type=image,name=r/a,push-by-digest=true')).toThrow(
      /type=image does not take the attribute "push-by-digest"/,
    );
    expect(() => parseOutputSpec('type=registry,name=r/a,compresion=zstd')).toThrow(
      /does not take the attribute "compresion"/,
    );
    expect(() => parseOutputSpec('type=local,dest=out,compression=zstd')).toThrow(
      /type=local does not take the attribute "compression"/,
    );
    expect(() => parseOutputSpec('type=docker,dest=x.tar,push=true')).toThrow(
      /does not take the attribute "push"/,
    );
    expect(() => parseOutputSpec('type=tar,dest=x.tar,name=a')).toThrow(
      /does not take the attribute "name"/,
    );
  });

  it('refuse values that do not parse', () => {
    expect(() => parseOutputSpec('type=image,name=r/a,compression=estargz')).toThrow(
      /unknown compression "estargz"/,
    );
    expect(() => parseOutputSpec('type=image,name=r/a,compression-level=10')).toThrow(
      /compression-level=10 is not a level of gzip/,
    );
    expect(() =>
      parseOutputSpec('type=image,name=r/a,compression=zstd,compression-level=x'),
    ).toThrow(/not a level of zstd/);
    expect(() => parseOutputSpec('type=image,name=r/a,oci-mediatypes=yes')).toThrow(
      /oci-mediatypes=yes: expected true or false/,
    );
    expect(() =>
      parseOutputSpec('type=image,name=r/a,compression=zstd,oci-mediatypes=false'),
    ).toThrow(/zstd-compressed layers need OCI media types/);
  });
});
