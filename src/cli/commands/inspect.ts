/**
 * `tbuild inspect IMAGE... [--format json|TEMPLATE]`: an image's config and manifest as
 * JSON, shaped like `docker image inspect` (Id, RepoTags, Config, Architecture, Os, RootFS,
 * …) plus the stored Manifest. `--format '{{.Id}}'` or `'{{json .Config}}'` print one
 * field, as docker's Go templates do for plain field paths.
 */
import type { Argv, CommandModule } from 'yargs';
import { STORE_ROOT_HELP } from '../../cache/default-root.ts';

interface InspectArgs {
  images: string[];
  format: string;
  root: string | undefined;
}

const inspectCommand: CommandModule<object, InspectArgs> = {
  command: 'inspect <images..>',
  describe: 'Show the config and manifest of images in the local store',
  builder: (yargs: Argv<object>): Argv<InspectArgs> =>
    yargs
      .positional('images', {
        type: 'string',
        array: true,
        demandOption: true,
        describe: 'Image names or IDs',
      })
      .option('format', {
        alias: 'f',
        type: 'string',
        default: 'json',
        describe: "json, or a template of field paths such as '{{.Id}}' or '{{json .Config}}'",
      })
      .option('root', {
        type: 'string',
        describe: STORE_ROOT_HELP,
      }) as unknown as Argv<InspectArgs>,
  handler: async (argv) => {
    const [
      { openStore, ImageNotFoundError },
      { inspectImage },
      { findImages },
      { renderTemplate },
    ] = await Promise.all([
      import('../../cache/index.ts'),
      import('../../engine/image-info.ts'),
      import('./images.ts'),
      import('../template.ts'),
    ]);
    const store = await openStore(argv.root === undefined ? {} : { root: argv.root });
    try {
      const results = [];
      for (const text of argv.images) {
        const [record] = await findImages(store, text);
        if (!record) throw new ImageNotFoundError(text);
        results.push(await inspectImage(store, record));
      }
      if (argv.format === 'json') process.stdout.write(JSON.stringify(results, null, 4) + '\n');
      else
        for (const result of results)
          process.stdout.write(
            renderTemplate(argv.format, result, {
              fieldsHint: 'Run `tbuild inspect IMAGE` to see the field names.',
            }) + '\n',
          );
    } finally {
      store.close();
    }
  },
};

export const command = inspectCommand as unknown as CommandModule<object, never>;
