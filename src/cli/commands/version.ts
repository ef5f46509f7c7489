/** `tbuild version` (and `tbuild --version`): `tbuild v0.1.0 <commit>`, as buildx prints it. */
import type { CommandModule } from 'yargs';
import { formatVersion, readVersionInfo } from '../version.ts';

export const command: CommandModule = {
  command: 'version',
  describe: 'Show the tbuild version and the commit it was built from',
  handler: async () => {
    process.stdout.write(formatVersion(await readVersionInfo()) + '\n');
  },
};
