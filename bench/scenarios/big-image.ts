/**
 * Scenarios 3 and 4 share one ~300 MB image (a RUN writing six 50 MB files of
 * /dev/urandom), built once by each tool and then:
 * 3. exported to a docker archive: tbuild's fully cached rebuild with
 *    `-o type=docker,dest=…` against `docker save`;
 * 4. pushed to a fresh loopback registry per run (so no blob is already there):
 *    tbuild's push against `docker push`.
 */
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startRegistry } from '../../test/helpers/registry.ts';
import { alternate } from '../support/measure.ts';
import { makeRow } from '../support/rows.ts';
import {
  buildWithBuildkit,
  buildWithTbuild,
  REPO_ROOT,
  runDocker,
  runTbuild,
} from '../support/tools.ts';
import type { Tool } from '../support/tools.ts';
import type { BenchEnv, Row, Scenario } from '../support/types.ts';

const TAG = 'tbuild-bench/big:latest';

interface BigImage {
  store: string;
  context: string;
  /** Rows measured while making the image (its cold build). */
  rows: Row[];
}

let made: Promise<BigImage> | undefined;

function imageMegabytes(): number {
  return Number(process.env.BENCH_IMAGE_MB ?? 300);
}

function makeDockerfile(files: number, bytesEach: number): string {
  return `FROM localhost:5000/busybox:latest
RUN mkdir /data && for i in $(seq ${files}); do head -c ${bytesEach} /dev/urandom > /data/blob$i; done
`;
}

/** Build the image once per tool (memoized across the two scenarios). */
function makeBigImage(env: BenchEnv): Promise<BigImage> {
  made ??= (async () => {
    const mb = imageMegabytes();
    const context = path.join(env.work, 'big-image');
    mkdirSync(context, { recursive: true });
    writeFileSync(path.join(context, 'Dockerfile'), makeDockerfile(6, Math.round((mb * 1e6) / 6)));
    const store = await env.newStore('big-image');
    env.log(`big-image: cold build of the ${mb} MB image`);
    const cold = await alternate(1, env.tools, async (tool) =>
      tool === 'tbuild'
        ? (await buildWithTbuild(store, context, ['-t', TAG])).ms
        : // --no-cache: Docker's build cache outlives the run (tbuild's store does not).
          (await buildWithBuildkit(context, ['--no-cache', '-t', TAG])).ms,
    );
    const row = makeRow('big-image', `cold build of a ${mb} MB image`, cold, { note: 'one run' });
    return { store, context, rows: [row] };
  })();
  return made;
}

async function runExport(env: BenchEnv): Promise<Row[]> {
  const image = await makeBigImage(env);
  const dest = path.join(env.work, 'export.tar');
  const minBytes = imageMegabytes() * 0.9e6;
  env.log(`export: fully cached rebuild without output ×${env.runs} (tbuild)`);
  const cached = await alternate(env.runs, ['tbuild'] as const, async () => {
    return (await buildWithTbuild(image.store, image.context, ['-t', TAG])).ms;
  });
  env.log(`export: docker archive ×${env.runs}`);
  const exported = await alternate(env.runs, env.tools, async (tool) => {
    rmSync(dest, { force: true });
    const ms =
      tool === 'tbuild'
        ? (
            await buildWithTbuild(image.store, image.context, [
              '-t',
              TAG,
              '-o',
              `type=docker,dest=${dest}`,
            ])
          ).ms
        : (await runDocker(['save', '-o', dest, TAG])).ms;
    const size = statSync(dest).size;
    if (size < minBytes) throw new Error(`${tool} wrote only ${size} bytes to ${dest}`);
    rmSync(dest, { force: true });
    return ms;
  });
  return [
    ...image.rows.splice(0),
    makeRow('export', 'fully cached rebuild, no output', cached, {
      note: 'tbuild only: the part of the export row that is not export',
    }),
    makeRow('export', 'docker archive (tbuild -o type=docker vs docker save)', exported),
  ];
}

/** `tbuild push` when the command exists, else a cached `build --push`. */
function hasPushCommand(): boolean {
  return existsSync(path.join(REPO_ROOT, 'lib/cli/commands/push.js'));
}

/** Whether the registry now lists tag 1 of bench (a push that exits 0 but sent nothing fails). */
async function checkPushed(registryUrl: string, tool: Tool): Promise<void> {
  const res = await fetch(`${registryUrl}/v2/bench/tags/list`);
  const body = (await res.json()) as { tags?: string[] };
  if (!body.tags?.includes('1')) throw new Error(`${tool} push left no bench:1 in the registry`);
}

async function pushOnce(tool: Tool, image: BigImage, env: BenchEnv): Promise<number> {
  const registry = await startRegistry();
  const ref = `${registry.host}/bench:1`;
  try {
    const ms = await pushTo(tool, image, ref);
    await checkPushed(registry.url, tool);
    return ms;
  } catch (error) {
    env.log(`registry log:\n${registry.log().slice(-2000)}`);
    throw error;
  } finally {
    await registry.stop();
  }
}

/** One timed push of the image as `ref`; tagging and untagging around it are not timed. */
async function pushTo(tool: Tool, image: BigImage, ref: string): Promise<number> {
  if (tool === 'buildkit') {
    await runDocker(['tag', TAG, ref]);
    const { ms } = await runDocker(['push', ref]);
    await runDocker(['rmi', ref]);
    return ms;
  }
  if (hasPushCommand()) {
    await runTbuild(image.store, ['tag', TAG, ref]);
    const { ms } = await runTbuild(image.store, ['push', ref]);
    await runTbuild(image.store, ['rm', ref]);
    return ms;
  }
  return (await buildWithTbuild(image.store, image.context, ['-t', ref, '--push'])).ms;
}

async function runPush(env: BenchEnv): Promise<Row[]> {
  const image = await makeBigImage(env);
  const how = hasPushCommand() ? 'tbuild push' : 'tbuild build --push (cached)';
  env.log(`push: fresh loopback registry per run ×${env.runs} (${how})`);
  const pushed = await alternate(env.runs, env.tools, (tool) => pushOnce(tool, image, env));
  return [
    ...image.rows.splice(0),
    makeRow('push', `push to a fresh loopback registry (${how} vs docker push)`, pushed),
  ];
}

export const exportArchive: Scenario = {
  name: 'export',
  describe: 'a ~300 MB image written as a docker archive: tbuild -o type=docker vs docker save',
  run: runExport,
};

export const pushImage: Scenario = {
  name: 'push',
  describe: 'the same ~300 MB image pushed to an empty loopback registry vs docker push',
  run: runPush,
};
