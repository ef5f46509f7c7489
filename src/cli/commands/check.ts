/**
 * `tbuild check [--repair]`: verify the store, like `git fsck` — every blob re-hashes to
 * its name, every committed snapshot has its directory, images and cache records point at
 * what exists. `--repair` unpacks missing snapshots again from their layer blobs and drops
 * what cannot be trusted (corrupt blobs, and the images and cache records that need them).
 */
import type { Argv, CommandModule } from 'yargs';
import { STORE_ROOT_HELP } from '../../cache/default-root.ts';
import { QuietFailure } from '../errors.ts';

interface CheckArgs {
  root: string | undefined;
  repair: boolean;
}

const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check',
  describe: 'Verify the local store (blobs, snapshots, references); --repair fixes what it can',
  builder: (yargs: Argv<object>): Argv<CheckArgs> =>
    yargs
      .option('repair', {
        type: 'boolean',
        default: false,
        describe: 'Unpack missing snapshots again, drop corrupt blobs and what depends on them',
      })
      .option('root', { type: 'string', describe: STORE_ROOT_HELP }) as unknown as Argv<CheckArgs>,
  handler: async (argv) => {
    const { openStore } = await import('../../cache/index.ts');
    const { checkStore } = await import('../../engine/store-check.ts');
    const store = await openStore(argv.root === undefined ? {} : { root: argv.root });
    let unrepaired = 0;
    try {
      const report = await checkStore(store, {
        repair: argv.repair,
        onFinding: (finding) => {
          if (!finding.repaired) unrepaired++;
          const outcome = finding.repaired ? `: ${finding.repaired}` : '';
          process.stdout.write(`${finding.message}${outcome}\n`);
        },
      });
      const problems = report.findings.length;
      process.stdout.write(
        `Checked ${report.blobs} blobs, ${report.snapshots} snapshots, ${report.images} images and ${report.cacheRecords} cache records: ` +
          (problems === 0
            ? 'no problems found.\n'
            : `${problems} problem${problems === 1 ? '' : 's'} found, ${problems - unrepaired} repaired.\n`),
      );
      if (unrepaired > 0 && !argv.repair)
        process.stderr.write('Run `tbuild check --repair` to repair the store.\n');
    } finally {
      store.close();
    }
    // Like git fsck: damage left in place is a failure.
    if (unrepaired > 0) throw new QuietFailure(1);
  },
};

export const command = checkCommand as unknown as CommandModule<object, never>;
