/**
 * `tbuild images [OPTIONS] [REPOSITORY[:TAG]]`: the images in the local store, as
 * `docker images` lists them: `-q`, `--digests`, `--no-trunc`, `--filter` (dangling,
 * reference, before, since, label) and `--format` (table, json, or a template).
 */
import type { Argv, CommandModule } from 'yargs';
import type { ImageRecord, Store } from '../../cache/index.ts';
import { STORE_ROOT_HELP } from '../../cache/default-root.ts';
import { list, repeatable } from '../args.ts';
import type { FilterableImage, ImageFilters } from '../image-filters.ts';

interface ImagesArgs {
  reference: string | undefined;
  root: string | undefined;
  quiet: boolean;
  all: boolean;
  digests: boolean;
  noTrunc: boolean;
  filter: string | string[] | undefined;
  format: string | undefined;
}

/** One row as docker shows it (its `--format` field names). */
export interface ImageRow {
  Repository: string;
  Tag: string;
  ID: string;
  Digest: string;
  CreatedAt: string;
  CreatedSince: string;
  Size: string;
}

/** A row with what the filters and sorting need. */
interface ListedImage extends FilterableImage {
  row: ImageRow;
}

const HEADERS: Record<string, string> = {
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  ID: 'IMAGE ID',
  Digest: 'DIGEST',
  CreatedAt: 'CREATED AT',
  CreatedSince: 'CREATED',
  Size: 'SIZE',
  VirtualSize: 'SIZE',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
  Containers: 'CONTAINERS',
};

const imagesCommand: CommandModule<object, ImagesArgs> = {
  command: 'images [reference]',
  describe: 'List images in the local store',
  builder: (yargs: Argv<object>): Argv<ImagesArgs> =>
    yargs
      .positional('reference', {
        type: 'string',
        describe: 'Only images whose REPOSITORY[:TAG] matches (a pattern, as --filter reference=)',
      })
      .option('root', { type: 'string', describe: STORE_ROOT_HELP })
      .option('quiet', {
        alias: 'q',
        type: 'boolean',
        default: false,
        describe: 'Only show image IDs',
      })
      .option('all', {
        alias: 'a',
        type: 'boolean',
        default: false,
        describe: 'Show all images (tbuild keeps no intermediate images: the same list)',
      })
      .option('digests', { type: 'boolean', default: false, describe: 'Show digests' })
      .option('no-trunc', { type: 'boolean', default: false, describe: "Don't truncate IDs" })
      .option('filter', {
        alias: 'f',
        ...repeatable,
        describe:
          'Filter: dangling=true|false, reference=PATTERN, before=IMAGE, since=IMAGE, label=KEY[=VALUE]; repeatable',
      })
      .option('format', {
        type: 'string',
        describe:
          "table (default), json, 'table TEMPLATE' or a TEMPLATE of fields such as '{{.Repository}}:{{.Tag}}'",
      }) as unknown as Argv<ImagesArgs>,
  handler: async (argv) => {
    const [{ openStore }, filters] = await Promise.all([
      import('../../cache/index.ts'),
      import('../image-filters.ts'),
    ]);
    const wanted = filters.parseImageFilters(list(argv.filter), argv.reference);
    const store = await openStore(argv.root === undefined ? {} : { root: argv.root });
    try {
      const listed = await listImages(store, { noTrunc: argv.noTrunc });
      const times = await filterTimes(store, wanted);
      const rows = listed.filter((i) => filters.matchesFilters(i, wanted, times)).map((i) => i.row);
      process.stdout.write(await formatImages(rows, argv));
    } finally {
      store.close();
    }
  },
};

export const command = imagesCommand as unknown as CommandModule<object, never>;

async function formatImages(rows: readonly ImageRow[], argv: ImagesArgs): Promise<string> {
  if (argv.quiet) return rows.map((r) => r.ID + '\n').join('');
  const { renderListing } = await import('../template.ts');
  const columns = ['{{.Repository}}', '{{.Tag}}', ...(argv.digests ? ['{{.Digest}}'] : [])];
  const defaultTable = [...columns, '{{.ID}}', '{{.CreatedSince}}', '{{.Size}}'].join('\t');
  return renderListing(argv.format ?? 'table', rows, {
    headers: HEADERS,
    defaultTable,
    fieldsHint: `Fields: ${Object.keys(HEADERS)
      .map((f) => `.${f}`)
      .join(' ')}.`,
    toJson: (row) => ({
      ...row,
      Containers: 'N/A',
      SharedSize: 'N/A',
      UniqueSize: 'N/A',
      VirtualSize: row.Size,
    }),
  });
}

async function listImages(store: Store, view: { noTrunc: boolean }): Promise<ListedImage[]> {
  const { parseReference, familiarName } = await import('../../registry/reference.ts');
  const { formatAgo, formatBytes, isUnnamedImage } = await import('../../cache/index.ts');
  const { readIndexChildren } = await import('../../engine/image-info.ts');
  const listed: ListedImage[] = [];
  const records = store.images.list();
  // A multi-platform image is one entry: its platforms' images (kept unnamed) are not listed.
  const indexes = new Map<string, ImageRecord[]>();
  for (const image of records) {
    const children = await readIndexChildren(store, image);
    if (children)
      indexes.set(
        image.name,
        children.map((c) => c.record),
      );
  }
  const inIndex = new Set([...indexes.values()].flat().map((r) => r.config));
  for (const image of records) {
    if (isUnnamedImage(image) && inIndex.has(image.config)) continue;
    const children = indexes.get(image.name);
    const ref = isUnnamedImage(image) ? undefined : parseReference(image.name);
    const config = children
      ? await newestConfig(store, children, image)
      : await readConfig(store, image);
    const repository = ref
      ? familiarName({ registry: ref.registry, repository: ref.repository })
      : undefined;
    listed.push({
      repository,
      tag: ref?.tag,
      id: image.config,
      created: config.created,
      labels: config.labels,
      row: {
        Repository: repository ?? '<none>',
        Tag: ref?.tag ?? '<none>',
        ID: view.noTrunc
          ? image.config
          : image.config.slice('sha256:'.length, 'sha256:'.length + 12),
        Digest: image.manifest,
        CreatedAt: formatCreatedAt(config.created),
        CreatedSince: formatAgo(config.created),
        Size: formatBytes(
          children
            ? await sumSizes(store, children, measureImage)
            : await measureImage(store, image),
        ),
      },
    });
  }
  listed.sort((a, b) => b.created - a.created || a.row.Repository.localeCompare(b.row.Repository));
  return listed;
}

/** Created times of the images named by `before=` and `since=` filters. */
async function filterTimes(store: Store, filters: ImageFilters): Promise<Map<string, number>> {
  const times = new Map<string, number>();
  const { ImageNotFoundError } = await import('../../cache/index.ts');
  for (const text of [...(filters.get('before') ?? []), ...(filters.get('since') ?? [])]) {
    const [record] = await findImages(store, text);
    if (!record) throw new ImageNotFoundError(text);
    times.set(text, (await readConfig(store, record)).created);
  }
  return times;
}

/** The image config's `created` (else when it was stored) and labels. */
async function readConfig(
  store: Store,
  image: ImageRecord,
): Promise<{ created: number; labels: Record<string, string> }> {
  const config = await store.blobs.readJson<{
    created?: string;
    config?: { Labels?: Record<string, string> | null };
  }>(image.config);
  const time = config.created ? Date.parse(config.created) : NaN;
  return {
    created: Number.isNaN(time) ? image.createdAt : time,
    labels: config.config?.Labels ?? {},
  };
}

/** An index's time is its newest platform's; it has no labels of its own. */
async function newestConfig(
  store: Store,
  children: ImageRecord[],
  index: ImageRecord,
): Promise<{ created: number; labels: Record<string, string> }> {
  const configs = await Promise.all(children.map((c) => readConfig(store, c)));
  return {
    created: configs.length ? Math.max(...configs.map((c) => c.created)) : index.createdAt,
    labels: configs[0]?.labels ?? {},
  };
}

async function sumSizes(
  store: Store,
  children: ImageRecord[],
  measure: (store: Store, image: ImageRecord) => Promise<number>,
): Promise<number> {
  let total = 0;
  for (const child of children) total += await measure(store, child);
  return total;
}

/** Docker's CreatedAt: Go's time.String in UTC, `2026-12-02 13:40:31 +0000 UTC`. */
function formatCreatedAt(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC`;
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
