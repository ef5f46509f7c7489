/**
 * `-o type=oci`: an OCI image layout, as a tar (default) or a directory. Writing into an
 * existing layout directory keeps its other images and replaces those with the same name.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Descriptor, Index } from '../shared/oci.ts';
import { generateArchive, writeArchiveDirectory, writeToDest } from './archive.ts';
import { ImageExportError } from './errors.ts';
import { indexDescriptors, layoutFiles } from './image-layout.ts';
import type { ImageExporter } from './types.ts';

const REF_NAME = 'org.opencontainers.image.ref.name';

/** Write the image as an OCI layout tar, or a layout directory with `options.directory`. */
export const exportOciLayout: ImageExporter = async (image, dest, options = {}) => {
  const names = options.names ?? [];
  if (!options.directory) {
    const files = layoutFiles(image, names, false);
    await writeToDest(generateArchive(files, options.sourceDateEpoch ?? 0), dest);
    return;
  }
  if (typeof dest !== 'string' || dest === '-') {
    throw new ImageExportError('an OCI layout directory needs a directory path as dest', {
      hint: 'Pass dest=<directory>, or drop tar=false to write a tar to a stream.',
    });
  }
  const ours = indexDescriptors(image, names);
  const kept = (await readExistingIndex(dest)).filter((d) => {
    const ref = d.annotations?.[REF_NAME];
    return ref !== undefined && !ours.some((o) => o.annotations?.[REF_NAME] === ref);
  });
  await writeArchiveDirectory(dest, layoutFiles(image, names, false, [...kept, ...ours]));
};

async function readExistingIndex(dir: string): Promise<Descriptor[]> {
  const text = await readFile(join(dir, 'index.json'), 'utf8').catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    },
  );
  if (text === undefined) return [];
  return (JSON.parse(text) as Index).manifests ?? [];
}
