/** `tbuild logout [SERVER]`: forget the credentials saved for a registry. */
import type { Argv, CommandModule } from 'yargs';

interface LogoutArgs {
  server: string | undefined;
}

const logoutCommand: CommandModule<object, LogoutArgs> = {
  command: 'logout [server]',
  describe: 'Log out from a registry (Docker Hub when SERVER is omitted)',
  builder: (yargs: Argv<object>): Argv<LogoutArgs> =>
    yargs.positional('server', {
      type: 'string',
      describe: 'Registry, e.g. ghcr.io or localhost:5000',
    }) as Argv<LogoutArgs>,
  handler: async (argv) => {
    const registry = await import('../../registry/index.ts');
    const server = registry.normalizeServerAddress(argv.server);
    const removed = await registry.createDockerConfigCredentials().erase(server);
    process.stdout.write(
      removed ? `Removing login credentials for ${server}\n` : `Not logged in to ${server}\n`,
    );
  },
};

export const command = logoutCommand as unknown as CommandModule<object, never>;
