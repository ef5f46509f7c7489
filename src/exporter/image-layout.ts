/**
 * The files of an OCI image layout holding one image — `oci-layout`, `index.json` and
 * `blobs/sha256/…` — optionally with Docker's `manifest.json` and `repositories`, which
 * makes the same archive loadable by `docker load` (as `docker save` writes since 25.0).
 */
import { digestHex, type Digest } from '../shared/digest.ts';
import { MediaType, type Descriptor, type Index } from '../shared/oci.ts';
import { parseImageName, type ArchiveFile } from './archive.ts';
import type { ExportImage } from './types.ts';

const blobPath = (digest: Digest): string => `blobs/sha256/${digestHex(digest)}`;

/** The manifest descriptors for index.json: one per name (annotated), or one bare. */
export function indexDescriptors(
  image: { manifest: { descriptor: Descriptor } },
  names: readonly string[],
): Descriptor[] {
  const parsed = names.map(parseImageName).filter((n) => n !== undefined);
  if (parsed.length === 0) return [image.manifest.descriptor];
  return parsed.map((name) => ({
    ...image.manifest.descriptor,
    annotations: {
      'io.containerd.image.name': name.full,
      'org.opencontainers.image.ref.name': name.tag,
    },
  }));
}

/** Every file of the layout, blobs deduplicated; `docker` adds manifest.json and repositories. */
export function layoutFiles(
  image: ExportImage,
  names: readonly string[],
  docker: boolean,
  manifests: Descriptor[] = indexDescriptors(image, names),
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
        open: () => image.blobs.stream(digest),
        source: image.blobs.path(digest),
      });
    }
  };
  for (const layer of image.layers) addBlob(layer);
  addBlob(image.config.descriptor, image.config.bytes);
  addBlob(image.manifest.descriptor, image.manifest.bytes);
  const index: Index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests };
  files.push({ path: 'index.json', data: Buffer.from(JSON.stringify(index)) });
  if (docker) files.push(...dockerFiles(image, names));
  files.push({
    path: 'oci-layout',
    data: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })),
  });
  return files;
}

function dockerFiles(image: ExportImage, names: readonly string[]): ArchiveFile[] {
  const tags = names.map(parseImageName).filter((n) => n !== undefined);
  const manifest = [
    {
      Config: blobPath(image.config.descriptor.digest),
      RepoTags: tags.map((t) => t.familiar),
      Layers: image.layers.map((l) => blobPath(l.digest)),
    },
  ];
  // `repositories` is the legacy index; docker load reads manifest.json first.
  const top = image.layers.at(-1);
  const repositories: Record<string, Record<string, string>> = {};
  for (const tag of tags) {
    if (!top) break;
    const repo = tag.familiar.slice(0, tag.familiar.length - tag.tag.length - 1);
    (repositories[repo] ??= {})[tag.tag] = digestHex(top.digest);
  }
  return [
    { path: 'manifest.json', data: Buffer.from(JSON.stringify(manifest)) },
    { path: 'repositories', data: Buffer.from(JSON.stringify(repositories)) },
  ];
}
