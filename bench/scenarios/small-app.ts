/**
 * The small app on Debian (issue 12): a cold build, one source file changed, and a no-op
 * rebuild, each as the whole CLI process. Both tools have the base image locally; "cold"
 * is a build with --no-cache.
 */
import path from 'node:path';
import { alternate } from '../support/measure.ts';
import { makeRow } from '../support/rows.ts';
import { DEBIAN, writeSmallApp } from '../support/small-app.ts';
import {
  buildWithBuildkit,
  buildWithTbuild,
  runDocker,
  runTbuild,
  takePeakRss,
} from '../support/tools.ts';
import type { Tool } from '../support/tools.ts';
import type { BenchEnv, Row, Scenario } from '../support/types.ts';

const NAME = 'small-app';

async function run(env: BenchEnv): Promise<Row[]> {
  const app = writeSmallApp(path.join(env.work, NAME));
  const store = await env.newStore(NAME);
  await runTbuild(store, ['pull', DEBIAN]);
  if (env.tools.includes('buildkit')) await runDocker(['pull', DEBIAN]);
  const build = async (tool: Tool, extra: string[] = []) => {
    const args = ['-t', 'tbuild-bench/small-app:latest', ...extra];
    return tool === 'tbuild'
      ? (await buildWithTbuild(store, app.dir, args)).ms
      : (await buildWithBuildkit(app.dir, args)).ms;
  };

  env.log(`${NAME}: cold build (--no-cache) ×${env.runs}`);
  takePeakRss(); // what ran before this scenario is not its memory
  const cold = await alternate(env.runs, env.tools, (tool) => build(tool, ['--no-cache']));
  const coldRss = takePeakRss();
  env.log(`${NAME}: one source file changed ×${env.runs}`);
  const changed = await alternate(env.runs, env.tools, (tool, round) => {
    app.changeSource(`${tool} ${round} ${Date.now()}`);
    return build(tool);
  });
  const changedRss = takePeakRss();
  env.log(`${NAME}: no-change rebuild ×${env.runs}`);
  const noop = await alternate(env.runs, env.tools, (tool) => build(tool));
  return [
    makeRow(NAME, 'cold (--no-cache)', cold, { target: '≤ 0.8', tbuildPeakRssMb: coldRss }),
    makeRow(NAME, 'one source file changed', changed, {
      target: '≤ 0.8',
      tbuildPeakRssMb: changedRss,
    }),
    makeRow(NAME, 'no-change rebuild', noop, { target: '≤ 0.6', tbuildPeakRssMb: takePeakRss() }),
  ];
}

export const smallApp: Scenario = {
  name: NAME,
  describe: 'Debian app (WORKDIR, COPY, RUN of 3,000 files, COPY src, RUN): cold, changed, no-op',
  run,
};
