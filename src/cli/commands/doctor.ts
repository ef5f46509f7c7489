/**
 * `tbuild doctor`: check what tbuild needs from this machine and print, once, what is
 * missing and the command that installs it. Exit status 1 when a build could not run.
 */
import type { Argv, CommandModule } from 'yargs';
import type { CheckResult } from '../../doctor/index.ts';

interface DoctorArgs {
  format: 'text' | 'json';
}

const MARK: Record<CheckResult['status'], string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL' };

const doctorCommand: CommandModule<object, DoctorArgs> = {
  command: 'doctor',
  describe: 'Check that this machine has what tbuild needs (runc, mount, attr, overlayfs, root)',
  builder: (yargs: Argv<object>): Argv<DoctorArgs> =>
    yargs.option('format', {
      choices: ['text', 'json'] as const,
      default: 'text' as const,
      describe: 'Output format',
    }) as Argv<DoctorArgs>,
  handler: async (argv) => {
    const { CHECKS, currentHost, installCommand, packagesToInstall, runChecks } =
      await import('../../doctor/index.ts');
    const host = currentHost();
    const results = await runChecks(host);
    const failed = results.some((r) => r.status === 'fail');
    const install = await installCommand(packagesToInstall(results, true), host);
    if (argv.format === 'json') {
      process.stdout.write(
        JSON.stringify({ ok: !failed, checks: results, install }, null, 2) + '\n',
      );
    } else {
      const titles = new Map(CHECKS.map((c) => [c.id, c.title]));
      const width = Math.max(...CHECKS.map((c) => c.title.length));
      for (const r of results) {
        const title = (titles.get(r.id) ?? r.id).padEnd(width);
        process.stdout.write(`${MARK[r.status].padEnd(4)}  ${title}  ${r.detail}\n`);
        if (r.status !== 'ok' && r.hint)
          process.stdout.write(`${''.padEnd(width + 6)}  hint: ${r.hint}\n`);
      }
      if (install) process.stdout.write(`\nTo install what is missing:\n  ${install}\n`);
      else if (!failed) process.stdout.write('\ntbuild can build on this machine.\n');
    }
    if (failed) process.exitCode = 1;
  },
};

export const command = doctorCommand as unknown as CommandModule<object, never>;
