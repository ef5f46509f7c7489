/**
 * `tbuild build [OPTIONS] PATH` — also the default command, so `tbuild -t app:1.0 .`
 * works like `docker build -t app:1.0 .`. Flags follow docker build / buildx build.
 */
import type { Argv, CommandModule } from 'yargs';
import { list } from '../args.ts';

interface BuildArgs {
  context?: string;
  file?: string;
  tag?: string | string[];
  'build-arg'?: string | string[];
  target?: string;
  platform?: string;
  'no-cache'?: boolean;
  'no-cache-filter'?: string | string[];
  pull?: boolean;
  progress?: string;
  output?: string | string[];
  push?: boolean;
  load?: boolean;
  iidfile?: string;
  'metadata-file'?: string;
  secret?: string | string[];
  network?: string;
  label?: string | string[];
  quiet?: boolean;
  root?: string;
  'max-parallelism'?: number;
  'dry-run'?: boolean;
  format?: string;
  'insecure-registry'?: string | string[];
}

export const command: CommandModule<object, BuildArgs> = {
  command: ['build [context]', '$0 [context]'],
  describe: 'Build an image from a Dockerfile',
  builder: (yargs: Argv) =>
    yargs
      .positional('context', { type: 'string', describe: 'Build context directory', default: '.' })
      .option('file', {
        alias: 'f',
        type: 'string',
        describe: 'Name of the Dockerfile (default: PATH/Dockerfile; - for stdin)',
      })
      .option('tag', {
        alias: 't',
        type: 'string',
        requiresArg: true,
        describe: 'Name and optionally a tag (name:tag)',
      })
      .option('build-arg', {
        type: 'string',
        requiresArg: true,
        describe: 'Set build-time variables (KEY=VALUE)',
      })
      .option('target', { type: 'string', describe: 'Set the target build stage to build' })
      .option('platform', { type: 'string', describe: 'Target platform (os/arch[/variant])' })
      .option('no-cache', { type: 'boolean', describe: 'Do not use cache when building the image' })
      .option('no-cache-filter', {
        type: 'string',
        requiresArg: true,
        describe: 'Do not cache the named stages',
      })
      .option('pull', {
        type: 'boolean',
        describe: 'Always attempt to pull newer versions of the base images',
      })
      .option('progress', {
        type: 'string',
        describe: 'Progress output: auto, tty, plain, json, quiet',
      })
      .option('output', {
        alias: 'o',
        type: 'string',
        requiresArg: true,
        describe: 'Output destination (type=docker|oci|local|tar|image,dest=…)',
      })
      .option('push', { type: 'boolean', describe: 'Shorthand for --output=type=image,push=true' })
      .option('load', { type: 'boolean', describe: 'Load the image into a running Docker daemon' })
      .option('iidfile', { type: 'string', describe: 'Write the image ID to the file' })
      .option('metadata-file', {
        type: 'string',
        describe: 'Write build result metadata to the file',
      })
      .option('secret', {
        type: 'string',
        requiresArg: true,
        describe: 'Secret to expose to the build (id=mysecret,src=/path | env=VAR)',
      })
      .option('network', {
        type: 'string',
        describe: 'Networking mode for RUN instructions: default, host, none',
      })
      .option('label', {
        type: 'string',
        requiresArg: true,
        describe: 'Set metadata for an image (KEY=VALUE)',
      })
      .option('quiet', {
        alias: 'q',
        type: 'boolean',
        describe: 'Suppress the build output and print the image ID on success',
      })
      .option('root', {
        type: 'string',
        describe: 'Store directory (default /var/lib/tbuild as root; TBUILD_ROOT)',
      })
      .option('max-parallelism', {
        type: 'number',
        describe: 'Steps run at once (default: number of cores)',
      })
      .option('dry-run', {
        type: 'boolean',
        describe: 'Print the build graph and image config; run nothing',
      })
      .option('format', { type: 'string', describe: 'Format for --dry-run: text or json' })
      .option('insecure-registry', {
        type: 'string',
        requiresArg: true,
        describe: 'Registry host:port reachable over plain HTTP',
      }),
  handler: async (args) => {
    const { runBuild } = await import('../build/run-build.ts');
    await runBuild({
      context: args.context,
      file: args.file,
      tag: list(args.tag),
      buildArg: list(args['build-arg']),
      target: args.target,
      platform: args.platform,
      noCache: args['no-cache'],
      noCacheFilter: list(args['no-cache-filter']),
      pull: args.pull,
      progress: args.progress,
      output: list(args.output),
      push: args.push,
      load: args.load,
      iidfile: args.iidfile,
      metadataFile: args['metadata-file'],
      secret: list(args.secret),
      network: args.network,
      label: list(args.label),
      quiet: args.quiet,
      root: args.root,
      maxParallelism: args['max-parallelism'],
      dryRun: args['dry-run'],
      format: args.format,
      insecureRegistry: list(args['insecure-registry']),
    });
  },
};
