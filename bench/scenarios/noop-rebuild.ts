/**
 * Scenario 1: a 20,000-file, ~316 MB context. Cold build once per tool, then the
 * no-change rebuild and the one-file-changed rebuild, N times each. Every figure is the
 * whole CLI process (Node start-up included for tbuild, the client for Docker).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeBigContext } from '../support/big-context.ts';
import { alternate } from '../support/measure.ts';
import { makeRow } from '../support/rows.ts';
import { buildWithBuildkit, buildWithTbuild, takePeakRss } from '../support/tools.ts';
import type { Tool } from '../support/tools.ts';
import type { BenchEnv, Row, Scenario } from '../support/types.ts';

const DOCKERFILE = `FROM localhost:5000/busybox:latest
COPY . /src
RUN find /src | wc -l
`;

const NAME = 'context-20k';

async function build(tool: Tool, store: string, context: string): Promise<number> {
  const tag = ['-t', 'tbuild-bench/context:latest'];
  const result =
    tool === 'tbuild'
      ? await buildWithTbuild(store, context, tag)
      : await buildWithBuildkit(context, tag);
  return result.ms;
}

async function run(env: BenchEnv): Promise<Row[]> {
  const files = Number(process.env.BENCH_FILES ?? 20_000);
  const context = path.join(env.work, 'context-20k');
  env.log(`${NAME}: writing ${files} files…`);
  const ctx = writeBigContext(context, DOCKERFILE, {
    files,
    totalBytes: Math.round((316_000_000 * files) / 20_000),
  });
  const store = await env.newStore('context');
  const label = `${ctx.files} files, ${(ctx.bytes / 1e6).toFixed(0)} MB`;

  env.log(`${NAME}: cold build (${label})`);
  takePeakRss(); // what ran before this scenario is not its memory
  const cold = await alternate(1, env.tools, (tool) => build(tool, store, context));
  const coldRss = takePeakRss();

  env.log(`${NAME}: no-change rebuild ×${env.runs}`);
  const noop = await alternate(env.runs, env.tools, (tool) => build(tool, store, context));
  const noopRss = takePeakRss();

  env.log(`${NAME}: one file changed ×${env.runs}`);
  const changed = await alternate(env.runs, env.tools, (tool, round) => {
    // New content before every build, so each tool sees a change since its last build.
    writeFileSync(ctx.sampleFile, `changed for ${tool} in round ${round} at ${Date.now()}\n`);
    return build(tool, store, context);
  });

  return [
    makeRow(NAME, `cold build (${label})`, cold, {
      note: 'one run',
      target: '≤ 0.6',
      tbuildPeakRssMb: coldRss,
    }),
    makeRow(NAME, 'no-change rebuild', noop, { target: '< 0.5', tbuildPeakRssMb: noopRss }),
    makeRow(NAME, 'one file changed', changed, { target: '≤ 0.3', tbuildPeakRssMb: takePeakRss() }),
  ];
}

export const contextRebuild: Scenario = {
  name: NAME,
  describe: 'COPY . of a 20,000-file context, then RUN find: cold, no-op and one-file rebuilds',
  run,
};
