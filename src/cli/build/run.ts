/**
 * `tbuild build` as a command: flags → options, a renderer on stderr, the builder, and
 * what docker prints on stdout (-q's image ID, --dry-run's graph). Everything the process
 * owns (streams, env, signals) comes in through `io`.
 */
import type { Builder } from '../../builder/builder.ts';
import { prepareBuild, releasePrepared } from '../../builder/prepare.ts';
import { openRenderer } from '../../progress/index.ts';
import type { CliIO } from '../io.ts';
import { parseBuildFlags, type BuildFlags } from './flags.ts';

export async function runBuildCli(flags: BuildFlags, io: CliIO): Promise<void> {
  const { options, settings } = await parseBuildFlags(flags, io.env);
  // Before the build reads its inputs (ADR 23): the memo must not outlive a change.
  const memo =
    io.invocation && !settings.dryRun && !settings.check
      ? (await import('../up-to-date/record.ts')).startMemo(io.invocation, options, settings, io)
      : undefined;
  const run = { signal: io.signal, stdin: io.stdin, stdout: io.stdout, cwd: io.cwd, env: io.env };
  // The context listing starts before the engine's modules load (ADR 0008).
  // A dry run or a check reads no context.
  const prepared = await prepareBuild(options, run, {
    listing: !settings.dryRun && !settings.check,
  });
  const { createBuilder } = await import('../../builder/builder.ts');
  let builder: Builder | undefined;
  try {
    builder = await createBuilder({
      ...(settings.root !== undefined ? { root: settings.root } : {}),
      ...(settings.maxParallelism !== undefined ? { parallelism: settings.maxParallelism } : {}),
      insecureRegistries: settings.insecureRegistries,
      env: io.env,
    });
  } catch (error) {
    await releasePrepared(prepared);
    throw error;
  }
  try {
    if (settings.check) {
      const result = await builder.check(prepared, run);
      const { printChecks } = await import('./check.ts');
      const { dockerfileText: text, dockerfileName: name } = prepared.options;
      printChecks(settings.check, result, { text, name }, (s) => io.stdout.write(s));
      return;
    }
    if (settings.dryRun) {
      const lowered = await builder.lower(prepared, run);
      const { printDryRun } = await import('../commands/build-dry-run.ts');
      await printDryRun(lowered, settings.format, (s) => io.stdout.write(s));
      return;
    }
    const renderer = await openRenderer(settings.progress, io.stderr, { env: io.env });
    try {
      for (const message of settings.warnings)
        renderer.sink({ type: 'warning', time: Date.now(), message });
      const result = await builder.build(prepared, { ...run, onProgress: renderer.sink });
      if (settings.quiet) io.stdout.write(result.imageId + '\n');
      memo?.finish(result, prepared.options, builder.root);
    } finally {
      renderer.close();
    }
  } finally {
    await builder.close();
  }
}
