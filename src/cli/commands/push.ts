/**
 * `tbuild push NAME[:TAG]` (or `-a` for every tag of NAME): an image from the local store
 * to its registry, like `docker push`. Layers the registry already has are not uploaded.
 */
import type { Argv, CommandModule } from 'yargs';
import type { ImageRecord, Store } from '../../cache/index.ts';
import { STORE_ROOT_HELP } from '../../cache/default-root.ts';
import type { RegistryClient } from '../../registry/index.ts';
import { list } from '../args.ts';

interface PushArgs {
  name: string;
  allTags: boolean;
  quiet: boolean;
  root: string | undefined;
  insecureRegistry: string | string[] | undefined;
}

const pushCommand: CommandModule<object, PushArgs> = {
  command: 'push <name>',
  describe: 'Upload an image from the local store to a registry',
  builder: (yargs: Argv<object>): Argv<PushArgs> =>
    yargs
      .positional('name', {
        type: 'string',
        demandOption: true,
        describe: 'Image name, e.g. localhost:5000/app:1',
      })
      .option('all-tags', {
        alias: 'a',
        type: 'boolean',
        default: false,
        describe: 'Push every tag of the repository',
      })
      .option('quiet', {
        alias: 'q',
        type: 'boolean',
        default: false,
        describe: 'Print only the pushed digests',
      })
      .option('insecure-registry', {
        type: 'string',
        requiresArg: true,
        describe: 'Registry host:port reachable over plain HTTP',
      })
      .option('root', { type: 'string', describe: STORE_ROOT_HELP }) as unknown as Argv<PushArgs>,
  handler: async (argv) => {
    const [{ openStore }, registry] = await Promise.all([
      import('../../cache/index.ts'),
      import('../../registry/index.ts'),
    ]);
    const store = await openStore(argv.root === undefined ? {} : { root: argv.root });
    const uploaded = new Set<string>();
    const client = registry.createRegistryClient({
      insecureRegistries: list(argv.insecureRegistry),
      credentials: await registry.loadCredentialStore(),
      onProgress: (p) => uploaded.add(p.digest),
    });
    try {
      const records = await selectRecords(store, argv.name, argv.allTags);
      const ref = registry.parseReference(records[0]!.name);
      if (!argv.quiet)
        process.stdout.write(
          `The push refers to repository [${registry.familiarName({ registry: ref.registry, repository: ref.repository })}]\n`,
        );
      for (const record of records) await pushRecord(store, client, record, argv.quiet, uploaded);
    } finally {
      await client.close();
      store.close();
    }
  },
};

export const command = pushCommand as unknown as CommandModule<object, never>;

/** The image named (its tag defaults to latest), or with -a every tag of its repository. */
async function selectRecords(store: Store, name: string, allTags: boolean): Promise<ImageRecord[]> {
  const { parseReference, formatReference } = await import('../../registry/reference.ts');
  const { ImageNotFoundError, isUnnamedImage } = await import('../../cache/index.ts');
  const { UsageError } = await import('../../shared/errors.ts');
  const ref = parseReference(name);
  if (ref.digest !== undefined) {
    throw new UsageError(`cannot push ${name}: a digest reference names no tag`, {
      hint: 'Tag it first (`tbuild tag IMAGE NAME:TAG`) and push the tag.',
    });
  }
  const repository = `${ref.registry}/${ref.repository}`;
  if (allTags) {
    const records = store.images.list().filter((r) => {
      if (isUnnamedImage(r)) return false;
      const other = parseReference(r.name);
      return `${other.registry}/${other.repository}` === repository && other.tag !== undefined;
    });
    if (records.length === 0) throw new ImageNotFoundError(name);
    return records;
  }
  const record = store.images.get(formatReference(ref));
  if (!record)
    throw new ImageNotFoundError(name, {
      hint: 'Build it with `tbuild build -t NAME .`, or give a local image this name with `tbuild tag`.',
    });
  return [record];
}

async function pushRecord(
  store: Store,
  client: RegistryClient,
  record: ImageRecord,
  quiet: boolean,
  uploaded: Set<string>,
): Promise<void> {
  const [{ readCompleteImage }, { pushImage }, { parseReference }] = await Promise.all([
    import('../../engine/image-info.ts'),
    import('../../engine/push.ts'),
    import('../../registry/reference.ts'),
  ]);
  const image = await readCompleteImage(store, record);
  await pushImage(store, client, image, record.name);
  const { digest, size } = image.manifest.descriptor;
  if (quiet) {
    process.stdout.write(`${record.name}@${digest}\n`);
    return;
  }
  // Docker lists layers top first.
  for (const layer of [...image.layers].reverse()) {
    const status = uploaded.has(layer.digest) ? 'Pushed' : 'Layer already exists';
    process.stdout.write(`${layer.digest.slice(7, 19)}: ${status}\n`);
  }
  process.stdout.write(`${parseReference(record.name).tag}: digest: ${digest} size: ${size}\n`);
}
