/**
 * Watch mode's latency (issue 9): from a change to one source file to the new image ID in
 * `tbuild watch --iidfile` (--debounce 20ms), against the time of a `docker build` of the
 * same change. For the small Debian app and for the 20,000-file context.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeBigContext } from '../support/big-context.ts';
import { summarize } from '../support/measure.ts';
import { makeRow } from '../support/rows.ts';
import { DEBIAN, writeSmallApp } from '../support/small-app.ts';
import { buildWithBuildkit, runDocker, runTbuild, TBUILD_BIN } from '../support/tools.ts';
import type { BenchEnv, Row, Scenario } from '../support/types.ts';

const NAME = 'watch-latency';

/** A running `tbuild watch`; `change()` edits a file and resolves with ms to the new ID. */
async function startWatch(store: string, context: string, iidfile: string) {
  const child = spawn(
    process.execPath,
    [
      TBUILD_BIN,
      'watch',
      '--root',
      store,
      '--progress',
      'quiet',
      '--debounce',
      '20ms',
      '--iidfile',
      iidfile,
      context,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const read = () => {
    try {
      return readFileSync(iidfile, 'utf8');
    } catch {
      return '';
    }
  };
  const until = async (check: () => boolean, what: string) => {
    const deadline = Date.now() + 600_000;
    while (!check()) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`tbuild watch: ${what} did not happen:\n${stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  await until(() => read() !== '' && stderr.includes('[watch] watching'), 'first build');
  return {
    async change(edit: () => void): Promise<number> {
      const before = read();
      const builds = (stderr.match(/\[watch\] build \d+: image/g) ?? []).length;
      const start = performance.now();
      edit();
      // The ID changes with every edit here: each edit gives new content.
      await until(() => read() !== before && read() !== '', 'a rebuild');
      const ms = performance.now() - start;
      await until(
        () => (stderr.match(/\[watch\] build \d+: image/g) ?? []).length > builds,
        'a summary',
      );
      return ms;
    },
    stop() {
      child.kill('SIGINT');
      return new Promise<void>((r) => child.on('close', () => r()));
    },
  };
}

async function measure(
  env: BenchEnv,
  label: string,
  context: string,
  edit: (note: string) => void,
  store: string,
): Promise<Row> {
  const iidfile = path.join(env.work, `${label}.iid`);
  const samples: Record<'tbuild' | 'buildkit', number[]> = { tbuild: [], buildkit: [] };
  if (env.tools.includes('buildkit')) {
    // Docker warms its cache on this context first, as watch's first build warms tbuild's.
    await buildWithBuildkit(context, ['-t', 'tbuild-bench/watch:latest']);
    for (let round = 0; round < env.runs; round++) {
      edit(`docker ${round} ${Date.now()}`);
      samples.buildkit.push(
        (await buildWithBuildkit(context, ['-t', 'tbuild-bench/watch:latest'])).ms,
      );
    }
  }
  const watch = await startWatch(store, context, iidfile);
  try {
    for (let round = 0; round < env.runs; round++)
      samples.tbuild.push(await watch.change(() => edit(`tbuild ${round} ${Date.now()}`)));
  } finally {
    await watch.stop();
  }
  env.log(`${NAME} ${label}: tbuild ${summarize(samples.tbuild).medianMs} ms`);
  return makeRow(NAME, `${label}: change → new image ID`, samples, { target: '≤ 0.5' });
}

async function run(env: BenchEnv): Promise<Row[]> {
  const app = writeSmallApp(path.join(env.work, `${NAME}-app`));
  const appStore = await env.newStore(`${NAME}-app`);
  await runTbuild(appStore, ['pull', DEBIAN]);
  if (env.tools.includes('buildkit')) await runDocker(['pull', DEBIAN]);
  const rows = [await measure(env, 'small app', app.dir, app.changeSource, appStore)];

  const files = Number(process.env.BENCH_FILES ?? 20_000);
  env.log(`${NAME}: writing ${files} files…`);
  const big = writeBigContext(
    path.join(env.work, `${NAME}-20k`),
    'FROM localhost:5000/busybox:latest\nCOPY . /src\nRUN find /src | wc -l\n',
    { files, totalBytes: Math.round((316_000_000 * files) / 20_000) },
  );
  const bigStore = await env.newStore(`${NAME}-20k`);
  rows.push(
    await measure(
      env,
      `${files} files`,
      big.dir,
      (note) => writeFileSync(big.sampleFile, `${note}\n`),
      bigStore,
    ),
  );
  return rows;
}

export const watchLatency: Scenario = {
  name: NAME,
  describe: 'tbuild watch from a one-file change to the new image ID vs a docker build of it',
  run,
};
