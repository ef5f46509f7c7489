/**
 * `tbuild doctor`: check what tbuild needs from this machine and print, once, what is
 * missing and the command that installs it. Exit status 1 when a build could not run.
 */
import type { Argv, CommandModule } from 'yargs';
import type { CheckResult } from '../../doctor/index.ts';

interface DoctorArgs {
  format: 'text' | 'json';
  root?: string;
  'probe-storage'?: string;
}

const MARK: Record<CheckResult['status'], string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL' };

const doctorCommand: CommandModule<object, DoctorArgs> = {
  command: 'doctor',
  describe:
    'Check that this machine has what tbuild needs (runc, mount, attr, overlayfs, root) and list the platforms it can build',
  builder: (yargs: Argv<object>): Argv<DoctorArgs> =>
    yargs
      .option('format', {
        choices: ['text', 'json'] as const,
        default: 'text' as const,
        describe: 'Output format',
      })
      .option('root', { type: 'string', describe: 'Store whose snapshotter to probe' })
      // Doctor's own probe, run again in the user namespace rootless builds use.
      .option('probe-storage', { type: 'string', hidden: true }) as unknown as Argv<DoctorArgs>,
  handler: async (argv) => {
    const [{ defaultStoreRoot }, storage] = await Promise.all([
      import('../../cache/default-root.ts'),
      import('../storage-check.ts'),
    ]);
    const storeRoot = argv.root ?? defaultStoreRoot();
    if (argv['probe-storage'] !== undefined) {
      await storage.writeStorageProbe(argv['probe-storage'], storeRoot);
      return;
    }
    const { CHECKS, currentHost, installCommand, packagesToInstall, runChecks } =
      await import('../../doctor/index.ts');
    const host = currentHost();
    const [checked, platforms, stored] = await Promise.all([
      runChecks(host),
      buildablePlatforms(),
      storage.storageCheck(storeRoot),
    ]);
    const results = [...checked, stored];
    const failed = results.some((r) => r.status === 'fail');
    const install = await installCommand(packagesToInstall(results, true), host);
    if (argv.format === 'json') {
      process.stdout.write(
        JSON.stringify({ ok: !failed, checks: results, platforms, install }, null, 2) + '\n',
      );
    } else {
      const titles = new Map([...CHECKS.map((c) => [c.id, c.title] as const), STORAGE_TITLE]);
      const width = Math.max(...[...titles.values()].map((t) => t.length));
      for (const r of results) {
        const title = (titles.get(r.id) ?? r.id).padEnd(width);
        process.stdout.write(`${MARK[r.status].padEnd(4)}  ${title}  ${r.detail}\n`);
        if (r.status !== 'ok' && r.hint)
          process.stdout.write(`${''.padEnd(width + 6)}  hint: ${r.hint}\n`);
      }
      process.stdout.write('\nPlatforms (--platform) whose RUN steps can run here:\n');
      for (const p of platforms)
        process.stdout.write(
          `${(p.mode ? 'ok' : 'no').padEnd(4)}  ${p.platform.padEnd(width)}  ${p.mode ? MODE[p.mode] : p.problem}\n`,
        );
      if (install) process.stdout.write(`\nTo install what is missing:\n  ${install}\n`);
      else if (!failed) process.stdout.write('\ntbuild can build on this machine.\n');
    }
    if (failed) process.exitCode = 1;
  },
};

const STORAGE_TITLE = ['storage', 'snapshotter (storage)'] as const;

const MODE: Record<string, string> = {
  native: 'native',
  namespace: "QEMU, registered in each step's own user namespace",
  host: "QEMU, through the host's binfmt_misc",
};

/** Every platform tbuild can emulate, probed without registering anything on the host. */
async function buildablePlatforms(): Promise<
  Array<{ platform: string; mode?: string; problem?: string }>
> {
  const [{ EMULATED_ARCHITECTURES }, { probePlatform }, { formatPlatform, hostPlatform }] =
    await Promise.all([
      import('../../exec/binfmt.ts'),
      import('../../exec/emulation.ts'),
      import('../../shared/platform.ts'),
    ]);
  const host = hostPlatform();
  const archs = [
    host.architecture,
    ...EMULATED_ARCHITECTURES.filter((a) => a !== host.architecture),
  ];
  const results = await Promise.all(
    archs.map((architecture) =>
      probePlatform(
        architecture === 'arm'
          ? { os: 'linux', architecture, variant: 'v7' }
          : { os: 'linux', architecture },
        { registerOnHost: false },
      ),
    ),
  );
  return results.map((r) => ({
    platform: formatPlatform(r.platform),
    ...(r.mode ? { mode: r.mode } : { problem: r.problem }),
  }));
}

export const command = doctorCommand as unknown as CommandModule<object, never>;
