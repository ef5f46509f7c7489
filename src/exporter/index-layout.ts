/**
 * A multi-platform image as an archive: an OCI image layout whose index.json points at the
 * image index (annotated with the names, as `docker save` 25+ and buildx write it), with
 * every platform's manifest, config and layers as blobs. The docker form adds
 * manifest.json with one image, the one for `loadPlatform`: what a daemon with the classic
 * image store loads; a daemon on the containerd image store reads index.json and takes the
 * whole index.
 */
import { digestHex, type Digest } from '../shared/digest.ts';
import { MediaType, type Descriptor, type Index } from '../shared/oci.ts';
import type { Platform } from '../shared/platform.ts';
import {
  generateArchive,
  parseImageName,
  writeArchiveDirectory,
  writeToDest,
  type ArchiveFile,
} from './archive.ts';
import { ImageExportError } from './errors.ts';
import { indexDescriptors } from './image-layout.ts';
import type { AssembledImage } from './image.ts';
import type { ExportDest, ExportImage, ExportOptions } from './types.ts';

export interface ExportIndex {
  descriptor: Descriptor;
  bytes: Buffer;
  images: ReadonlyArray<{ platform: Platform; image: AssembledImage }>;
  blobs: ExportImage['blobs'];
}

export interface IndexExportOptions extends ExportOptions {
  /** Add Docker's manifest.json (with this platform's image) to the layout. */
  docker?: { loadPlatform: Platform };
}

const blobPath = (digest: Digest): string => `blobs/sha256/${digestHex(digest)}`;

/** Write the index as an OCI layout (tar, or a directory with `directory`). */
export async function exportIndexLayout(
  index: ExportIndex,
  dest: ExportDest,
  options: IndexExportOptions = {},
): Promise<void> {
  const files = indexLayoutFiles(index, options.names ?? [], options.docker?.loadPlatform);
  if (!options.directory) {
    await writeToDest(generateArchive(files, options.sourceDateEpoch ?? 0), dest);
    return;
  }
  if (typeof dest !== 'string' || dest === '-') {
    throw new ImageExportError('an OCI layout directory needs a directory path as dest', {
      hint: 'Pass dest=<directory>, or drop tar=false to write a tar to a stream.',
    });
  }
  await writeArchiveDirectory(dest, files);
}

function indexLayoutFiles(
  index: ExportIndex,
  names: readonly string[],
  loadPlatform: Platform | undefined,
): ArchiveFile[] {
  const files: ArchiveFile[] = [];
  const seen = new Set<string>();
  const addBlob = (descriptor: Descriptor, data?: Buffer): void => {
    if (seen.has(descriptor.digest)) return;
    seen.add(descriptor.digest);
    const path = blobPath(descriptor.digest);
    if (data) files.push({ path, data });
    else {
      const { digest, size } = descriptor;
      files.push({
        path,
        size,
        open: () => index.blobs.stream(digest),
        source: index.blobs.path(digest),
      });
    }
  };
  for (const { image } of index.images) {
    for (const layer of image.layers) addBlob(layer);
    addBlob(image.config.descriptor, image.config.bytes);
    addBlob(image.manifest.descriptor, image.manifest.bytes);
  }
  addBlob(index.descriptor, index.bytes);
  const top: Index = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: indexDescriptors({ manifest: { descriptor: index.descriptor } }, names),
  };
  files.push({ path: 'index.json', data: Buffer.from(JSON.stringify(top)) });
  if (loadPlatform) files.push(dockerManifest(index, names, loadPlatform));
  files.push({
    path: 'oci-layout',
    data: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })),
  });
  return files;
}

/** manifest.json: the image for the loading daemon's platform (else the first), named. */
function dockerManifest(
  index: ExportIndex,
  names: readonly string[],
  platform: Platform,
): ArchiveFile {
  const same = (p: Platform) =>
    p.os === platform.os &&
    p.architecture === platform.architecture &&
    (p.variant ?? '') === (platform.variant ?? '');
  const chosen = (index.images.find((i) => same(i.platform)) ?? index.images[0])!.image;
  const tags = names.map(parseImageName).filter((n) => n !== undefined);
  const manifest = [
    {
      Config: blobPath(chosen.config.descriptor.digest),
      RepoTags: tags.map((t) => t.familiar),
      Layers: chosen.layers.map((l) => blobPath(l.digest)),
    },
  ];
  return { path: 'manifest.json', data: Buffer.from(JSON.stringify(manifest)) };
}
