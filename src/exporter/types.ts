/**
 * The exporters' one shape: `export(image, dest, options)`. Each output (docker archive,
 * OCI layout, …) is a function of this type in its own file.
 */
import type { Writable } from 'node:stream';
import type { BlobStore } from '../cache/types.ts';
import type { AssembledImage } from './image.ts';

/** An assembled image plus where its blobs can be read. */
export interface ExportImage extends AssembledImage {
  blobs: Pick<BlobStore, 'stream' | 'path'>;
}

/** A file path, `-` for standard output, or a stream (ended when the export is done). */
export type ExportDest = string | Writable;

export interface ExportOptions {
  /** Image names, e.g. `app:1.0` or `registry.example/team/app:1.0`. */
  names?: readonly string[];
  /** SOURCE_DATE_EPOCH in seconds: the time stamped on archive entries (default 0). */
  sourceDateEpoch?: number;
  /** OCI layout only: write a directory at `dest` instead of a tar (buildx `tar=false`). */
  directory?: boolean;
}

export type ImageExporter = (
  image: ExportImage,
  dest: ExportDest,
  options?: ExportOptions,
) => Promise<void>;
