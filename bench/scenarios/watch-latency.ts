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

/** A copy of the context, and an edit of one of its files. */
interface ContextCopy {
  dir: string;
  edit(note: string): void;
}

/** One copy for each tool: an edit for Docker must not wake the watch. */
type Contexts = Record<'tbuild' | 'buildkit', ContextCopy>;

/**
 * Rounds alternate: a Docker build of an edit to its copy, then an edit to the watched
 * copy, so that a change in the machine's state (page cache, write-back, load) falls on
 * both tools' samples alike.
 */
async function measure(
  env: BenchEnv,
  label: string,
  contexts: Contexts,
  store: string,
): Promise<Row> {
  const iidfile = path.join(env.work, `${label}.iid`);
  const samples: Record<'tbuild' | 'buildkit', number[]> = { tbuild: [], buildkit: [] };
  const docker = env.tools.includes('buildkit');
  const tag = ['-t', 'tbuild-bench/watch:latest'];
  // Docker warms its cache on its copy first, as watch's first build warms tbuild's.
  if (docker) await buildWithBuildkit(contexts.buildkit.dir, tag);
  const watch = await startWatch(store, contexts.tbuild.dir, iidfile);
  try {
    for (let round = 0; round < env.runs; round++) {
      if (docker) {
        contexts.buildkit.edit(`docker ${round} ${Date.now()}`);
        samples.buildkit.push((await buildWithBuildkit(contexts.buildkit.dir, tag)).ms);
      }
      samples.tbuild.push(
        await watch.change(() => contexts.tbuild.edit(`tbuild ${round} ${Date.now()}`)),
      );
    }
  } finally {
    await watch.stop();
  }
  env.log(`${NAME} ${label}: tbuild ${summarize(samples.tbuild).medianMs} ms`);
  return makeRow(NAME, `${label}: change → new image ID`, samples, { target: '≤ 0.5' });
}

async function run(env: BenchEnv): Promise<Row[]> {
  const apps = {
    tbuild: writeSmallApp(path.join(env.work, `${NAME}-app`)),
    buildkit: writeSmallApp(path.join(env.work, `${NAME}-app-docker`)),
  };
  const appStore = await env.newStore(`${NAME}-app`);
  await runTbuild(appStore, ['pull', DEBIAN]);
  if (env.tools.includes('buildkit')) await runDocker(['pull', DEBIAN]);
  const rows = [
    await measure(
      env,
      'small app',
      {
        tbuild: { dir: apps.tbuild.dir, edit: apps.tbuild.changeSource },
        buildkit: { dir: apps.buildkit.dir, edit: apps.buildkit.changeSource },
      },
      appStore,
    ),
  ];

  const files = Number(process.env.BENCH_FILES ?? 20_000);
  env.log(`${NAME}: writing ${files} files, twice…`);
  const dockerfile = 'FROM localhost:5000/busybox:latest\nCOPY . /src\nRUN find /src | wc -l\n';
  const size = { files, totalBytes: Math.round((316_000_000 * files) / 20_000) };
  const bigs = {
    tbuild: writeBigContext(path.join(env.work, `${NAME}-20k`), dockerfile, size),
    buildkit: writeBigContext(path.join(env.work, `${NAME}-20k-docker`), dockerfile, size),
  };
  const bigStore = await env.newStore(`${NAME}-20k`);
  rows.push(
    await measure(
      env,
      `${files} files`,
      {
        tbuild: {
          dir: bigs.tbuild.dir,
          edit: (note) => writeFileSync(bigs.tbuild.sampleFile, `${note}\n`),
        },
        buildkit: {
          dir: bigs.buildkit.dir,
          edit: (note) => writeFileSync(bigs.buildkit.sampleFile, `${note}\n`),
        },
      },
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
