/**
 * `tbuild prune [-a] [--filter until=24h] [--keep-storage 10GB] [-f]`: remove build
 * cache and everything no image references, like `docker builder prune`.
 */
import { createInterface } from 'node:readline/promises';
import type { Argv, CommandModule } from 'yargs';
import { list } from '../args.ts';
import { STORE_ROOT_HELP } from '../../cache/default-root.ts';
import type { PruneOptions } from '../../cache/index.ts';

interface PruneArgs {
  root: string | undefined;
  all: boolean;
  filter: string | string[];
  keepStorage: string | undefined;
  force: boolean;
}

const pruneCommand: CommandModule<object, PruneArgs> = {
  command: 'prune',
  describe: 'Remove build cache and unused layers and blobs',
  builder: (yargs: Argv<object>): Argv<PruneArgs> =>
    yargs
      .option('all', {
        alias: 'a',
        type: 'boolean',
        default: false,
        describe:
          'Remove all build cache (cache mounts and untagged images too), not just unused data',
      })
      .option('filter', {
        type: 'string',
        requiresArg: true,
        default: [] as string[],
        describe: 'Only cache unused for longer than a duration: until=24h (or unused-for=24h)',
      })
      .option('keep-storage', {
        type: 'string',
        describe: 'Remove least recently used cache until the store fits, e.g. 10GB',
      })
      .option('force', {
        alias: 'f',
        type: 'boolean',
        default: false,
        describe: 'Do not ask for confirmation',
      })
      .option('root', { type: 'string', describe: STORE_ROOT_HELP }) as unknown as Argv<PruneArgs>,
  handler: async (argv) => {
    const { openStore, parseBytes, formatBytes } = await import('../../cache/index.ts');
    const options = await resolvePruneOptions(argv);
    if (!argv.force && !(await confirm(argv.all))) return;
    const store = await openStore(argv.root === undefined ? {} : { root: argv.root });
    try {
      const result = await store.prune({
        ...options,
        ...(argv.keepStorage === undefined
          ? {}
          : { keepStorageBytes: parseBytes(argv.keepStorage) }),
      });
      if (result.removedSnapshots.length > 0) {
        process.stdout.write(
          `Deleted build cache objects:\n${result.removedSnapshots.join('\n')}\n\n`,
        );
      }
      process.stdout.write(
        `Removed ${result.removedCacheRecords} cache records, ${result.removedCacheMounts} cache mounts, ${result.removedUnnamedImages} untagged images, ${result.removedSnapshots.length} layers, ${result.removedBlobs.length} blobs\n` +
          `Total reclaimed space: ${formatBytes(result.reclaimedBytes)}\n`,
      );
    } finally {
      store.close();
    }
  },
};

export const command = pruneCommand as unknown as CommandModule<object, never>;

/** `--all` and `--filter` as store options; unknown filters are usage errors. */
async function resolvePruneOptions(argv: PruneArgs): Promise<PruneOptions> {
  const { parseDuration } = await import('../../cache/index.ts');
  const { UsageError, closestMatch } = await import('../../shared/errors.ts');
  const options: PruneOptions = { all: argv.all };
  for (const filter of list(argv.filter)) {
    const [name = '', value] = filter.split('=', 2) as [string, string | undefined];
    if ((name === 'until' || name === 'unused-for') && value) {
      options.olderThanMs = parseDuration(value);
      options.all = false; // the filter narrows -a to old records, as in docker
      continue;
    }
    const near = closestMatch(name, ['until', 'unused-for']);
    throw new UsageError(`invalid filter "${filter}"`, {
      hint: near ? `Did you mean --filter ${near}=${value ?? '24h'}?` : 'Use --filter until=24h.',
    });
  }
  return options;
}

/** Ask like docker does; only "y" or "yes" proceeds. */
async function confirm(all: boolean): Promise<boolean> {
  const what = all ? 'all build cache' : 'all dangling build cache';
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((done) => {
      rl.once('close', () => done(''));
      void rl
        .question(`WARNING! This will remove ${what}.\nAre you sure you want to continue? [y/N] `)
        .then(done);
    });
    const yes = /^y(es)?$/i.test(answer.trim());
    if (!yes) process.stderr.write('Nothing removed.\n');
    return yes;
  } finally {
    rl.close();
  }
}
