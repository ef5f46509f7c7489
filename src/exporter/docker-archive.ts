/**
 * `-o type=docker`: a tar that `docker load` accepts (manifest.json, repositories) and that
 * is also an OCI image layout (oci-layout, index.json), laid out like `docker save` 25+.
 * Layers are stored as they are in the blob store (docker load decompresses them).
 */
import { generateArchive, writeToDest } from './archive.ts';
import { layoutFiles } from './image-layout.ts';
import type { ImageExporter } from './types.ts';

/** Write the image as a docker-loadable archive to a file, `-` (stdout) or a stream. */
export const exportDockerArchive: ImageExporter = async (image, dest, options = {}) => {
  const files = layoutFiles(image, options.names ?? [], true);
  await writeToDest(generateArchive(files, options.sourceDateEpoch ?? 0), dest);
};
