/** `tbuild tag SOURCE TARGET`: give an image in the local store another name. */
import type { Argv, CommandModule } from 'yargs';
import { STORE_ROOT_HELP } from '../../cache/default-root.ts';

interface TagArgs {
  root: string | undefined;
  source: string;
  target: string;
}

const tagCommand: CommandModule<object, TagArgs> = {
  command: 'tag <source> <target>',
  describe: 'Create a tag TARGET that refers to the image SOURCE',
  builder: (yargs: Argv<object>): Argv<TagArgs> =>
    yargs
      .positional('source', { type: 'string', demandOption: true, describe: 'Image name or ID' })
      .positional('target', {
        type: 'string',
        demandOption: true,
        describe: 'New name, e.g. app:1.0',
      })
      .option('root', { type: 'string', describe: STORE_ROOT_HELP }) as Argv<TagArgs>,
  handler: async (argv) => {
    const { openStore, ImageNotFoundError } = await import('../../cache/index.ts');
    const { normalizeImageName } = await import('../../registry/reference.ts');
    const { findImages } = await import('./images.ts');
    const target = normalizeImageName(argv.target); // invalid names fail before the store opens
    const store = await openStore(argv.root === undefined ? {} : { root: argv.root });
    try {
      const [source] = await findImages(store, argv.source);
      if (!source) throw new ImageNotFoundError(argv.source);
      store.images.set({ ...source, name: target });
    } finally {
      store.close();
    }
  },
};

export const command = tagCommand as unknown as CommandModule<object, never>;
