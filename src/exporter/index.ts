/** The exporter: layer tars in and out, image assembly, and the image and filesystem outputs. */
export { writeLayerTar, generateLayerTar } from './layer-writer.ts';
export type { LayerWriteOptions, LayerWriteResult } from './layer-writer.ts';
export { unpackLayer } from './layer-unpack.ts';
export type { UnpackOptions, UnpackResult } from './layer-unpack.ts';
export {
  assembleImage,
  ensureLayerBlob,
  ensureLayerBlobs,
  ensureLayerDiff,
  ensureLayerDiffs,
} from './image.ts';
export type {
  AssembleImageOptions,
  AssembledImage,
  ImageLayer,
  LayerBlobOptions,
  LayerStore,
  StoredBlob,
} from './image.ts';
export { exportDockerArchive } from './docker-archive.ts';
export { exportOciLayout } from './oci-layout.ts';
export {
  exportLayersToDirectory,
  exportLayersToTar,
  exportMergedToDirectory,
  exportMergedToTar,
} from './filesystem.ts';
export type { FilesystemExportOptions } from './filesystem.ts';
export type { ExportDest, ExportImage, ExportOptions, ImageExporter } from './types.ts';
export type { Compression } from './compression.ts';
export * from './errors.ts';
