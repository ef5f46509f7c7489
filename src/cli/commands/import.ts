/**
 * `tbuild import FILE|- [REPOSITORY[:TAG]]` — like `docker import`: an image from a root
 * filesystem tarball. `-c/--change` applies CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL,
 * EXPOSE, STOPSIGNAL to the config.
 */
import { createReadStream } from 'node:fs';
import type { CommandModule } from 'yargs';
import { list } from '../args.ts';
import type { ContainerConfig } from '../../shared/oci.ts';
import { UsageError } from '../../shared/errors.ts';

interface ImportArgs {
  file: string;
  reference?: string;
  change?: string | string[];
  message?: string;
  platform?: string;
  root?: string;
}

export const command: CommandModule<object, ImportArgs> = {
  command: 'import <file> [reference]',
  describe: 'Import a root filesystem tarball as an image',
  builder: (yargs) =>
    yargs
      .positional('file', {
        type: 'string',
        demandOption: true,
        describe: 'Tarball (plain, gzip or zstd), or - for stdin',
      })
      .positional('reference', { type: 'string', describe: 'Name for the image (name:tag)' })
      .option('change', {
        alias: 'c',
        type: 'string',
        requiresArg: true,
        describe: 'Apply a Dockerfile instruction to the image config',
      })
      .option('message', {
        alias: 'm',
        type: 'string',
        describe: 'Commit message for the history entry',
      })
      .option('platform', {
        type: 'string',
        describe: 'Platform of the image (default: this machine)',
      })
      .option('root', { type: 'string', describe: 'Store directory' }),
  handler: async (args) => {
    const [
      { openStore },
      { importRootfs },
      { normalizeImageName },
      { hostPlatform, parsePlatform },
    ] = await Promise.all([
      import('../../cache/index.ts'),
      import('../../engine/import-rootfs.ts'),
      import('../../registry/reference.ts'),
      import('../../shared/platform.ts'),
    ]);
    const config = await applyChanges(list(args.change));
    const store = await openStore(args.root ? { root: args.root } : {});
    try {
      const input = args.file === '-' ? process.stdin : createReadStream(args.file);
      const image = await importRootfs(store, input, {
        platform: args.platform ? parsePlatform(args.platform) : hostPlatform(),
        config,
        source: args.file,
        ...(args.message ? { message: args.message } : {}),
      });
      if (args.reference) {
        store.images.set({
          name: normalizeImageName(args.reference),
          manifest: image.manifest.descriptor.digest,
          config: image.config.descriptor.digest,
          snapshot: image.snapshot,
          createdAt: Date.now(),
        });
      }
      process.stdout.write(image.config.descriptor.digest + '\n');
    } finally {
      store.close();
    }
  },
};

async function applyChanges(changes: readonly string[]): Promise<ContainerConfig> {
  const { parseDockerfile } = await import('../../parser/index.ts');
  const config: ContainerConfig = {};
  for (const change of changes) {
    for (const ins of parseDockerfile(change).instructions) {
      const shell = (args: string[]) => (ins.json ? args : ['/bin/sh', '-c', args.join(' ')]);
      switch (ins.name) {
        case 'CMD':
          config.Cmd = shell(ins.args);
          break;
        case 'ENTRYPOINT':
          config.Entrypoint = shell(ins.args);
          break;
        case 'ENV':
          for (let i = 0; i + 1 < ins.args.length; i += 2)
            (config.Env ??= []).push(`${ins.args[i]}=${unquote(ins.args[i + 1]!)}`);
          break;
        case 'LABEL':
          for (let i = 0; i + 1 < ins.args.length; i += 2)
            (config.Labels ??= {})[unquote(ins.args[i]!)] = unquote(ins.args[i + 1]!);
          break;
        case 'WORKDIR':
          config.WorkingDir = ins.args[0]!;
          break;
        case 'USER':
          config.User = ins.args[0]!;
          break;
        case 'STOPSIGNAL':
          config.StopSignal = ins.args[0]!;
          break;
        case 'EXPOSE':
          for (const port of ins.args)
            (config.ExposedPorts ??= {})[port.includes('/') ? port : `${port}/tcp`] = {};
          break;
        default:
          throw new UsageError(`--change does not support ${ins.name}`, {
            hint: 'Use CMD, ENTRYPOINT, ENV, LABEL, WORKDIR, USER, EXPOSE or STOPSIGNAL.',
          });
      }
    }
  }
  return config;
}

function unquote(s: string): string {
  return s.length >= 2 && (s[0] === '"' || s[0] === "'") && s.at(-1) === s[0] ? s.slice(1, -1) : s;
}
