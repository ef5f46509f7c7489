/**
 * `tbuild rm IMAGE...` (alias `rmi`): untag images. Content stays until `tbuild prune`
 * removes what nothing references.
 */
import type { Argv, CommandModule } from 'yargs';
import { STORE_ROOT_HELP } from '../../cache/default-root.ts';

interface RmArgs {
  root: string | undefined;
  images: string[];
  force: boolean;
}

const rmCommand: CommandModule<object, RmArgs> = {
  command: ['rm <images..>', 'rmi'],
  describe: 'Remove one or more images from the local store',
  builder: (yargs: Argv<object>): Argv<RmArgs> =>
    yargs
      .positional('images', {
        type: 'string',
        array: true,
        demandOption: true,
        describe: 'Image names or IDs',
      })
      .option('force', {
        alias: 'f',
        type: 'boolean',
        default: false,
        describe: 'Remove every name of an image given by ID',
      })
      .option('root', { type: 'string', describe: STORE_ROOT_HELP }) as Argv<RmArgs>,
  handler: async (argv) => {
    const { openStore, ImageNotFoundError } = await import('../../cache/index.ts');
    const { familiarName } = await import('../../registry/reference.ts');
    const { UsageError } = await import('../../shared/errors.ts');
    const { findImages } = await import('./images.ts');
    const store = await openStore(argv.root === undefined ? {} : { root: argv.root });
    const failures: Error[] = [];
    try {
      for (const text of argv.images) {
        const found = await findImages(store, text);
        if (found.length === 0) failures.push(new ImageNotFoundError(text));
        else if (found.length > 1 && !argv.force) {
          failures.push(
            new UsageError(
              `image ${text} has ${found.length} names, so it cannot be removed by ID`,
              {
                hint: `Remove it by name, or pass --force to remove all of: ${found.map((f) => familiarName(f.name)).join(', ')}.`,
              },
            ),
          );
        } else {
          for (const image of found) {
            store.images.delete(image.name);
            process.stdout.write(`Untagged: ${familiarName(image.name)}\n`);
          }
        }
      }
    } finally {
      store.close();
    }
    // Report every failure, like docker; the last one sets the exit code.
    for (const failure of failures.slice(0, -1))
      process.stderr.write(`ERROR: ${failure.message}\n`);
    if (failures.length) throw failures[failures.length - 1];
  },
};

export const command = rmCommand as unknown as CommandModule<object, never>;
