/**
 * `tbuild pull NAME[:TAG|@DIGEST] [--platform P]`: an image from a registry into the store,
 * like `docker pull`. Layer progress goes to stderr; the digest, the status and the
 * image's name to stdout, as docker prints them.
 */
import type { Argv, CommandModule } from 'yargs';
import { STORE_ROOT_HELP } from '../../cache/default-root.ts';
import { list } from '../args.ts';

interface PullArgs {
  name: string;
  platform: string | undefined;
  root: string | undefined;
  quiet: boolean;
  insecureRegistry: string | string[] | undefined;
}

const pullCommand: CommandModule<object, PullArgs> = {
  command: 'pull <name>',
  describe: 'Download an image from a registry into the local store',
  builder: (yargs: Argv<object>): Argv<PullArgs> =>
    yargs
      .positional('name', {
        type: 'string',
        demandOption: true,
        describe: 'Image, e.g. busybox, localhost:5000/app:1 or app@sha256:…',
      })
      .option('platform', {
        type: 'string',
        describe: 'Platform to pull from a multi-platform image (default: this machine)',
      })
      .option('quiet', {
        alias: 'q',
        type: 'boolean',
        default: false,
        describe: 'Print only the image name',
      })
      .option('insecure-registry', {
        type: 'string',
        requiresArg: true,
        describe: 'Registry host:port reachable over plain HTTP',
      })
      .option('root', { type: 'string', describe: STORE_ROOT_HELP }) as unknown as Argv<PullArgs>,
  handler: async (argv) => {
    const [{ openStore }, { pullImage }, registry, { hostPlatform, parsePlatform }] =
      await Promise.all([
        import('../../cache/index.ts'),
        import('../../engine/pull-image.ts'),
        import('../../registry/index.ts'),
        import('../../shared/platform.ts'),
      ]);
    const ref = registry.parseReference(argv.name); // a bad name fails before the store opens
    const platform = argv.platform ? parsePlatform(argv.platform) : hostPlatform();
    const store = await openStore(argv.root === undefined ? {} : { root: argv.root });
    const client = registry.createRegistryClient({
      insecureRegistries: list(argv.insecureRegistry),
      credentials: await registry.loadCredentialStore(),
    });
    const say = (line: string) => {
      if (!argv.quiet) process.stderr.write(line + '\n');
    };
    try {
      if (ref.digest === undefined) say(`${ref.tag}: Pulling from ${shortRepository(ref)}`);
      else say(`${ref.digest.slice(7)}: Pulling from ${shortRepository(ref)}`);
      const started = new Set<string>();
      const pulled = await pullImage(store, async () => client, argv.name, {
        platform,
        onLayer: (event) => {
          const id = event.digest.slice(7, 19);
          if (event.kind === 'downloading') {
            if (!started.has(id)) say(`${id}: Pulling fs layer`);
            started.add(id);
          } else say(`${id}: ${event.kind === 'complete' ? 'Pull complete' : 'Already exists'}`);
        },
      });
      const familiar = registry.familiarName(pulled.name);
      if (!argv.quiet) {
        process.stdout.write(
          `Digest: ${pulled.digest}\n` +
            (pulled.updated
              ? `Status: Downloaded newer image for ${familiar}\n`
              : `Status: Image is up to date for ${familiar}\n`),
        );
      }
      process.stdout.write(pulled.name + '\n');
    } finally {
      await client.close();
      store.close();
    }
  },
};

export const command = pullCommand as unknown as CommandModule<object, never>;

/** `library/busybox` for Docker Hub, `localhost:5000/app` elsewhere — as docker says it. */
function shortRepository(ref: { registry: string; repository: string }): string {
  return ref.registry === 'docker.io' ? ref.repository : `${ref.registry}/${ref.repository}`;
}
