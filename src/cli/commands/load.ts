/**
 * `tbuild load [-i FILE]`: images from a docker archive or an OCI layout tar (plain or
 * compressed; stdin by default) into the store, like `docker load`.
 */
import { createReadStream } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { STORE_ROOT_HELP } from '../../cache/default-root.ts';

interface LoadArgs {
  input: string | undefined;
  quiet: boolean;
  platform: string | undefined;
  root: string | undefined;
}

const loadCommand: CommandModule<object, LoadArgs> = {
  command: 'load',
  describe: 'Load images from a tar archive (stdin by default) into the local store',
  builder: (yargs: Argv<object>): Argv<LoadArgs> =>
    yargs
      .option('input', {
        alias: 'i',
        type: 'string',
        requiresArg: true,
        describe: 'Read from a tar archive file instead of stdin',
      })
      .option('quiet', {
        alias: 'q',
        type: 'boolean',
        default: false,
        describe: 'Print nothing but errors',
      })
      .option('platform', {
        type: 'string',
        describe: 'Platform to load from a multi-platform archive (default: this machine)',
      })
      .option('root', { type: 'string', describe: STORE_ROOT_HELP }) as unknown as Argv<LoadArgs>,
  handler: async (argv) => {
    const [{ openStore }, { loadArchive }, { familiarName }, { hostPlatform, parsePlatform }] =
      await Promise.all([
        import('../../cache/index.ts'),
        import('../../engine/load-archive.ts'),
        import('../../registry/reference.ts'),
        import('../../shared/platform.ts'),
      ]);
    const { UsageError } = await import('../../shared/errors.ts');
    if (argv.input === undefined && process.stdin.isTTY) {
      throw new UsageError('requested load from stdin, but stdin is empty', {
        hint: 'Pipe an archive in (`tbuild load < image.tar`) or name it with -i image.tar.',
      });
    }
    const platform = argv.platform ? parsePlatform(argv.platform) : hostPlatform();
    const store = await openStore(argv.root === undefined ? {} : { root: argv.root });
    try {
      const input = argv.input === undefined ? process.stdin : createReadStream(argv.input);
      const images = await loadArchive(store, input, { platform });
      if (argv.quiet) return;
      for (const image of images) {
        for (const name of image.names)
          process.stdout.write(`Loaded image: ${familiarName(name)}\n`);
        if (image.names.length === 0) {
          process.stdout.write(`Loaded image ID: ${image.configDigest}\n`);
          process.stderr.write(
            'WARNING: the archive gives this image no name; the store keeps only named images, ' +
              'so the next `tbuild prune` removes it. Save it by name to keep it.\n',
          );
        }
      }
    } finally {
      store.close();
    }
  },
};

export const command = loadCommand as unknown as CommandModule<object, never>;
