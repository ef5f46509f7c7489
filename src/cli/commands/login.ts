/** `tbuild login [SERVER] -u USER (--password-stdin | -p PASS)`: check and save registry credentials. */
import type { Argv, CommandModule } from 'yargs';
import { list } from '../args.ts';
import { UsageError } from '../../shared/errors.ts';

interface LoginArgs {
  server: string | undefined;
  username: string | undefined;
  password: string | undefined;
  passwordStdin: boolean;
  insecureRegistry: string | string[];
}

const loginCommand: CommandModule<object, LoginArgs> = {
  command: 'login [server]',
  describe: 'Log in to a registry (Docker Hub when SERVER is omitted)',
  builder: (yargs: Argv<object>): Argv<LoginArgs> =>
    yargs
      .positional('server', {
        type: 'string',
        describe: 'Registry, e.g. ghcr.io or localhost:5000',
      })
      .option('username', { alias: 'u', type: 'string', describe: 'Username' })
      .option('password', {
        alias: 'p',
        type: 'string',
        describe: 'Password or token (prefer --password-stdin)',
      })
      .option('password-stdin', {
        type: 'boolean',
        default: false,
        describe: 'Read the password from stdin',
      })
      .option('insecure-registry', {
        type: 'string',
        requiresArg: true,
        default: [],
        describe: 'Allow plain HTTP to this host:port',
      }) as unknown as Argv<LoginArgs>,
  handler: async (argv) => {
    const registry = await import('../../registry/index.ts');
    const server = registry.normalizeServerAddress(argv.server);
    if (!argv.username) {
      throw new UsageError('login needs a username', {
        hint: `Run \`tbuild login ${server} -u USER --password-stdin\`.`,
      });
    }
    if (argv.password !== undefined && argv.passwordStdin) {
      throw new UsageError('--password and --password-stdin are mutually exclusive', {
        hint: 'Give the password one way: --password-stdin is safer.',
      });
    }
    let password = argv.password;
    if (argv.passwordStdin) password = await readStdin();
    else if (password !== undefined) {
      process.stderr.write(
        'WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n',
      );
    }
    if (!password) {
      throw new UsageError('login needs a password', {
        hint: `Pipe it in: \`echo "$TOKEN" | tbuild login ${server} -u ${argv.username} --password-stdin\`.`,
      });
    }
    const credentials = { username: argv.username, password };
    const client = registry.createRegistryClient({
      insecureRegistries: list(argv.insecureRegistry),
    });
    try {
      await client.checkLogin(server, credentials);
    } finally {
      await client.close();
    }
    const store = registry.createDockerConfigCredentials();
    const { helper } = await store.store(server, credentials);
    if (!helper) {
      process.stderr.write(
        `WARNING! Your password will be stored unencrypted in ${store.configPath}.\n` +
          'Configure a credential helper (credsStore) to store it in a keychain instead.\n',
      );
    }
    process.stdout.write('Login Succeeded\n');
  },
};

/** All of stdin, without the trailing newline `echo` adds. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export const command = loginCommand as unknown as CommandModule<object, never>;
