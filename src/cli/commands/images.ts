/**
 * `tbuild images [-q] [--format table|json] [--root DIR]`: the images in the local
 * store, like `docker images`.
 */
import type { Argv, CommandModule } from 'yargs';
import type { ImageRecord, Store } from '../../cache/index.ts';
import { STORE_ROOT_HELP } from '../../cache/default-root.ts';

interface ImagesArgs {
  root: string | undefined;
  quiet: boolean;
  format: 'table' | 'json';
}

/** One row as docker shows it. */
export interface ImageRow {
  Repository: string;
  Tag: string;
  ID: string;
  Digest: string;
  CreatedAt: string;
  CreatedSince: string;
  Size: string;
}

const imagesCommand: CommandModule<object, ImagesArgs> = {
  command: 'images',
  describe: 'List images in the local store',
  builder: (yargs: Argv<object>): Argv<ImagesArgs> =>
    yargs
      .option('root', { type: 'string', describe: STORE_ROOT_HELP })
      .option('quiet', {
        alias: 'q',
        type: 'boolean',
        default: false,
        describe: 'Only show image IDs',
      })
      .option('format', {
        choices: ['table', 'json'] as const,
        default: 'table' as const,
        describe: 'Output format (json: one object per line)',
      }) as Argv<ImagesArgs>,
  handler: async (argv) => {
    const { openStore } = await import('../../cache/index.ts');
    const store = await openStore(argv.root === undefined ? {} : { root: argv.root });
    try {
      const rows = await describeImages(store);
      if (argv.quiet) process.stdout.write(rows.map((r) => r.ID + '\n').join(''));
      else if (argv.format === 'json')
        process.stdout.write(rows.map((r) => JSON.stringify(r) + '\n').join(''));
      else {
        const header = ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'];
        const body = rows.map((r) => [r.Repository, r.Tag, r.ID, r.CreatedSince, r.Size]);
        process.stdout.write(formatColumns([header, ...body]));
      }
    } finally {
      store.close();
    }
  },
};

export const command = imagesCommand as unknown as CommandModule<object, never>;

/** Rows for every image, newest first. */
export async function describeImages(store: Store): Promise<ImageRow[]> {
  const { parseReference, familiarName } = await import('../../registry/reference.ts');
  const { formatAgo, formatBytes, isUnnamedImage } = await import('../../cache/index.ts');
  const rows: (ImageRow & { created: number })[] = [];
  for (const image of store.images.list()) {
    const ref = isUnnamedImage(image) ? undefined : parseReference(image.name);
    const created = await readCreated(store, image);
    rows.push({
      Repository: ref
        ? familiarName({ registry: ref.registry, repository: ref.repository })
        : '<none>',
      Tag: ref?.tag ?? '<none>',
      ID: image.config.slice('sha256:'.length, 'sha256:'.length + 12),
      Digest: ref?.digest ?? '<none>',
      CreatedAt: new Date(created).toISOString(),
      CreatedSince: formatAgo(created),
      Size: formatBytes(await measureImage(store, image)),
      created,
    });
  }
  rows.sort((a, b) => b.created - a.created || a.Repository.localeCompare(b.Repository));
  return rows.map(({ created: _created, ...row }) => row);
}

/** The image config's `created`, else when it was stored. */
async function readCreated(store: Store, image: ImageRecord): Promise<number> {
  const config = await store.blobs.readJson<{ created?: string }>(image.config);
  const time = config.created ? Date.parse(config.created) : NaN;
  return Number.isNaN(time) ? image.createdAt : time;
}

/** Unpacked size: the layer chain's snapshots, else the manifest's layer sizes. */
async function measureImage(store: Store, image: ImageRecord): Promise<number> {
  if (image.snapshot !== null && store.snapshots.get(image.snapshot)) {
    return store.snapshots.chain(image.snapshot).reduce((sum, s) => sum + (s.size ?? 0), 0);
  }
  const manifest = await store.blobs.readJson<{ layers?: { size?: number }[] }>(image.manifest);
  return (manifest.layers ?? []).reduce((sum, l) => sum + (l.size ?? 0), 0);
}

/**
 * Find an image by name (`app:1`, normalised) or by ID prefix (`3f2a…`, as `images`
 * shows it). Returns every record that matches: several names can share one ID.
 */
export async function findImages(store: Store, text: string): Promise<ImageRecord[]> {
  const { normalizeImageName } = await import('../../registry/reference.ts');
  const { isTbuildError } = await import('../../shared/errors.ts');
  try {
    const byName = store.images.get(normalizeImageName(text));
    if (byName) return [byName];
  } catch (error) {
    // Not a valid name: it may still be an ID (e.g. a full sha256:… digest).
    if (!isTbuildError(error)) throw error;
  }
  const id = /^(?:sha256:)?([0-9a-f]{3,64})$/.exec(text)?.[1];
  if (!id) return [];
  const matches = store.images
    .list()
    .filter((image) => image.config.slice('sha256:'.length).startsWith(id));
  return new Set(matches.map((m) => m.config)).size === 1 ? matches : [];
}

/** Left-aligned columns three spaces apart, like docker's tables. */
export function formatColumns(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join(''),
    )
    .join('\n')
    .concat(rows.length ? '\n' : '');
}
