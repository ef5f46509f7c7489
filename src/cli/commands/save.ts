/**
 * `tbuild save [-o FILE] [--format docker|oci] IMAGE...`: images from the store as one tar,
 * like `docker save`. The docker format (default) is docker-loadable and is at the same
 * time an OCI layout (as docker 25+ writes it); `--format oci` writes a plain OCI layout
 * with OCI media types.
 */
import type { Argv, CommandModule } from 'yargs';
import type { Store } from '../../cache/index.ts';
import { STORE_ROOT_HELP } from '../../cache/default-root.ts';
import type { ArchiveFile } from '../../exporter/archive.ts';
import type { AssembledImage } from '../../exporter/image.ts';
import { TbuildError } from '../../shared/errors.ts';

interface SaveArgs {
  images: string[];
  output: string | undefined;
  format: 'docker' | 'oci';
  root: string | undefined;
}

const saveCommand: CommandModule<object, SaveArgs> = {
  command: 'save <images..>',
  describe: 'Save images to a tar archive (stdout by default)',
  builder: (yargs: Argv<object>): Argv<SaveArgs> =>
    yargs
      .positional('images', {
        type: 'string',
        array: true,
        demandOption: true,
        describe: 'Image names or IDs',
      })
      .option('output', {
        alias: 'o',
        type: 'string',
        requiresArg: true,
        describe: 'Write to a file instead of stdout',
      })
      .option('format', {
        choices: ['docker', 'oci'] as const,
        default: 'docker' as const,
        describe: 'docker: docker-loadable (also an OCI layout); oci: OCI layout only',
      })
      .option('root', { type: 'string', describe: STORE_ROOT_HELP }) as unknown as Argv<SaveArgs>,
  handler: async (argv) => {
    const { UsageError } = await import('../../shared/errors.ts');
    if (argv.output === undefined && process.stdout.isTTY) {
      throw new UsageError('cowardly refusing to save to a terminal', {
        hint: 'Use the -o flag or redirect: `tbuild save IMAGE > image.tar`.',
      });
    }
    const { openStore } = await import('../../cache/index.ts');
    const { generateArchive, writeToDest } = await import('../../exporter/archive.ts');
    const store = await openStore(argv.root === undefined ? {} : { root: argv.root });
    try {
      const files = await collectFiles(store, argv.images, argv.format);
      await writeToDest(generateArchive(files), argv.output ?? process.stdout);
    } finally {
      store.close();
    }
  },
};

export const command = saveCommand as unknown as CommandModule<object, never>;

/** One image's archive files per argument, merged into one layout (blobs written once). */
async function collectFiles(
  store: Store,
  images: readonly string[],
  format: 'docker' | 'oci',
): Promise<ArchiveFile[]> {
  const [{ findImages }, { ImageNotFoundError }, info, { layoutFiles }, reference] =
    await Promise.all([
      import('./images.ts'),
      import('../../cache/index.ts'),
      import('../../engine/image-info.ts'),
      import('../../exporter/image-layout.ts'),
      import('../../registry/reference.ts'),
    ]);
  const parts: ArchiveFile[][] = [];
  for (const text of images) {
    const [record] = await findImages(store, text);
    if (!record) throw new ImageNotFoundError(text);
    let image: AssembledImage = await info.readCompleteImage(store, record);
    if (format === 'oci') image = await info.convertToOciMediaTypes(store, image);
    // Saved by name: the archive carries that name; saved by ID: no name, as docker does.
    const named = findByName(store, reference.normalizeImageName, text);
    const names = named ? [reference.familiarName(named.name)] : [];
    parts.push(layoutFiles({ ...image, blobs: store.blobs }, names, format === 'docker'));
  }
  return mergeLayouts(parts);
}

function findByName(store: Store, normalize: (s: string) => string, text: string) {
  let name: string;
  try {
    name = normalize(text);
  } catch (error) {
    if (error instanceof TbuildError) return undefined; // an ID such as sha256:…, not a name
    throw error;
  }
  return store.images.get(name);
}

/** Several single-image layouts as one: blobs deduplicated, the indexes concatenated. */
function mergeLayouts(parts: ArchiveFile[][]): ArchiveFile[] {
  if (parts.length === 1) return parts[0]!;
  const blobs = new Map<string, ArchiveFile>();
  const manifests: unknown[] = [];
  const dockerManifest: unknown[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  let docker = false;
  for (const files of parts) {
    for (const file of files) {
      const json = () => JSON.parse(('data' in file ? file.data : Buffer.alloc(0)).toString());
      if (file.path === 'index.json')
        manifests.push(...(json() as { manifests: unknown[] }).manifests);
      else if (file.path === 'manifest.json') {
        docker = true;
        dockerManifest.push(...(json() as unknown[]));
      } else if (file.path === 'repositories') {
        for (const [repo, tags] of Object.entries(json() as typeof repositories))
          Object.assign((repositories[repo] ??= {}), tags);
      } else if (file.path !== 'oci-layout') blobs.set(file.path, file);
    }
  }
  const data = (path: string, value: unknown): ArchiveFile => ({
    path,
    data: Buffer.from(JSON.stringify(value)),
  });
  return [
    ...blobs.values(),
    data('index.json', {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests,
    }),
    ...(docker ? [data('manifest.json', dockerManifest), data('repositories', repositories)] : []),
    data('oci-layout', { imageLayoutVersion: '1.0.0' }),
  ];
}
