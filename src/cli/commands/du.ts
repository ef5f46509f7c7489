/** `tbuild du [--verbose] [--format json]`: disk usage of the store, like `docker buildx du`. */
import type { Argv, CommandModule } from 'yargs';
import { STORE_ROOT_HELP } from '../../cache/default-root.ts';
import type { DiskUsage } from '../../cache/index.ts';

interface DuArgs {
  root: string | undefined;
  verbose: boolean;
  format: 'table' | 'json';
}

const duCommand: CommandModule<object, DuArgs> = {
  command: 'du',
  describe: 'Show disk usage of the build cache and images',
  builder: (yargs: Argv<object>): Argv<DuArgs> =>
    yargs
      .option('verbose', {
        alias: 'v',
        type: 'boolean',
        default: false,
        describe: 'Show every layer in detail',
      })
      .option('format', {
        choices: ['table', 'json'] as const,
        default: 'table' as const,
        describe: 'Output format',
      })
      .option('root', { type: 'string', describe: STORE_ROOT_HELP }) as Argv<DuArgs>,
  handler: async (argv) => {
    const { openStore } = await import('../../cache/index.ts');
    const store = await openStore(argv.root === undefined ? {} : { root: argv.root });
    try {
      const usage = await store.du();
      if (argv.format === 'json') process.stdout.write(JSON.stringify(usage, null, 2) + '\n');
      else process.stdout.write(await (argv.verbose ? formatVerbose(usage) : formatTable(usage)));
    } finally {
      store.close();
    }
  },
};

export const command = duCommand as unknown as CommandModule<object, never>;

async function formatTable(usage: DiskUsage): Promise<string> {
  const { formatBytes, formatAgo } = await import('../../cache/index.ts');
  const { alignColumns } = await import('../template.ts');
  const rows = [...usage.snapshots]
    .sort((a, b) => b.size - a.size || b.id - a.id)
    .map((s) => [
      String(s.id),
      s.reclaimable ? 'true' : 'false',
      formatBytes(s.size),
      formatAgo(s.lastUsedAt),
      truncate(s.description ?? '', 50),
    ]);
  const table = rows.length
    ? alignColumns([['ID', 'RECLAIMABLE', 'SIZE', 'LAST ACCESSED', 'DESCRIPTION'], ...rows])
    : '';
  return table + (await formatTotals(usage));
}

async function formatVerbose(usage: DiskUsage): Promise<string> {
  const { formatBytes, formatAgo } = await import('../../cache/index.ts');
  const blocks = usage.snapshots.map(
    (s) =>
      [
        `ID:\t\t${s.id}`,
        `Parent:\t\t${s.parent ?? '-'}`,
        `Created at:\t${new Date(s.createdAt).toISOString()}`,
        `Mutable:\t${!s.committed}`,
        `In use:\t\t${s.inUse}`,
        `Reclaimable:\t${s.reclaimable}`,
        `Description:\t${s.description ?? ''}`,
        `Size:\t\t${formatBytes(s.size)}`,
        `Last used:\t${formatAgo(s.lastUsedAt)}`,
        ...(s.diffId ? [`Diff ID:\t${s.diffId}`] : []),
      ].join('\n') + '\n\n',
  );
  return blocks.join('') + (await formatTotals(usage));
}

async function formatTotals(usage: DiskUsage): Promise<string> {
  const { formatBytes } = await import('../../cache/index.ts');
  const t = usage.totals;
  return (
    [
      `Layers:\t\t${formatBytes(t.snapshotBytes)} (${usage.snapshots.length})`,
      `Blobs:\t\t${formatBytes(t.blobBytes)} (${usage.blobs.count})`,
      `Cache records:\t${usage.cacheRecords}`,
      `Cache mounts:\t${formatBytes(usage.cacheMounts.bytes)} (${usage.cacheMounts.count})`,
      `Reclaimable:\t${formatBytes(t.reclaimableBytes)}`,
      `Total:\t\t${formatBytes(t.totalBytes)}`,
    ].join('\n') + '\n'
  );
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + '…';
}
