/**
 * `tbuild history IMAGE`: the layers of an image, newest first, as `docker history` shows
 * them (IMAGE CREATED CREATED BY SIZE COMMENT), from the image config's history.
 */
import type { Argv, CommandModule } from 'yargs';
import { STORE_ROOT_HELP } from '../../cache/default-root.ts';
import type { HistoryRow } from '../../engine/image-info.ts';

interface HistoryArgs {
  image: string;
  human: boolean;
  noTrunc: boolean;
  quiet: boolean;
  format: 'table' | 'json';
  root: string | undefined;
}

const historyCommand: CommandModule<object, HistoryArgs> = {
  command: 'history <image>',
  describe: 'Show the history of an image in the local store',
  builder: (yargs: Argv<object>): Argv<HistoryArgs> =>
    yargs
      .positional('image', { type: 'string', demandOption: true, describe: 'Image name or ID' })
      .option('human', {
        alias: 'H',
        type: 'boolean',
        default: true,
        describe: 'Print sizes and dates in human readable format',
      })
      .option('no-trunc', { type: 'boolean', default: false, describe: "Don't truncate output" })
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
      })
      .option('root', {
        type: 'string',
        describe: STORE_ROOT_HELP,
      }) as unknown as Argv<HistoryArgs>,
  handler: async (argv) => {
    const [
      { openStore, ImageNotFoundError, formatAgo, formatBytes },
      { readImageHistory },
      images,
    ] = await Promise.all([
      import('../../cache/index.ts'),
      import('../../engine/image-info.ts'),
      import('./images.ts'),
    ]);
    const store = await openStore(argv.root === undefined ? {} : { root: argv.root });
    try {
      const [record] = await images.findImages(store, argv.image);
      if (!record) throw new ImageNotFoundError(argv.image);
      const rows = await readImageHistory(store, record);
      const id = (row: HistoryRow) =>
        row.id === '<missing>' || argv.noTrunc ? row.id : row.id.slice(7, 19);
      if (argv.quiet) {
        process.stdout.write(rows.map((r) => id(r) + '\n').join(''));
        return;
      }
      const created = (row: HistoryRow) => {
        if (!row.created) return '';
        return argv.human ? formatAgo(Date.parse(row.created)) : row.created;
      };
      const table = rows.map((row) => ({
        ID: id(row),
        CreatedSince: created(row),
        CreatedBy: truncate(row.createdBy.replace(/\s+/g, ' '), argv.noTrunc ? Infinity : 45),
        Size: argv.human ? formatBytes(row.size) : String(row.size),
        Comment: row.comment,
      }));
      if (argv.format === 'json') {
        process.stdout.write(table.map((r) => JSON.stringify(r) + '\n').join(''));
        return;
      }
      const header = ['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'];
      const body = table.map((r) => [r.ID, r.CreatedSince, r.CreatedBy, r.Size, r.Comment]);
      const { alignColumns } = await import('../template.ts');
      process.stdout.write(alignColumns([header, ...body]));
    } finally {
      store.close();
    }
  },
};

export const command = historyCommand as unknown as CommandModule<object, never>;

/** Docker's truncation: at most `max` characters, the last one an ellipsis. */
function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + '…';
}
