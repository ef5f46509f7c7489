/**
 * "Fresh CI runner" (issue 10): an empty tbuild store and a Docker with its build cache
 * pruned and no images at all (`docker image prune -af`) both build the small app with the
 * cache of an earlier build, imported from a loopback registry: tbuild with
 * `--cache-from type=registry,ref=…` (exported with `--cache-to type=registry,mode=max`),
 * BuildKit with `--cache-from` of an image pushed with `BUILDKIT_INLINE_CACHE=1`. Two
 * cases: no source changed, and one source file changed; and, tbuild only, a fully cached
 * build pushed to the cache's registry (lazy import: no layer fetched, ADR 11).
 *
 * Removing only the named images is not enough: dangling `<none>` images of earlier runs
 * keep the Debian layer unpacked in Docker's layer store, and BuildKit then never unpacks
 * it, which a fresh runner must. The Dockers the benchmarks use are theirs to prune.
 */
import path from 'node:path';
import { startRegistry } from '../../test/helpers/registry.ts';
import { alternate } from '../support/measure.ts';
import { makeRow } from '../support/rows.ts';
import { writeSmallApp } from '../support/small-app.ts';
import { buildWithBuildkit, buildWithTbuild, runDocker } from '../support/tools.ts';
import type { Tool } from '../support/tools.ts';
import type { BenchEnv, Row, Scenario } from '../support/types.ts';

const NAME = 'fresh-ci';
const TAG = 'tbuild-bench/fresh-ci:latest';

async function run(env: BenchEnv): Promise<Row[]> {
  const registry = await startRegistry();
  try {
    const app = writeSmallApp(path.join(env.work, NAME));
    const cacheRef = `${registry.host}/bench/fresh-ci:cache`;
    const inlineRef = `${registry.host}/bench/fresh-ci:inline`;
    env.log(`${NAME}: exporting each tool's cache to ${registry.host}`);
    const seed = await env.newStore(`${NAME}-seed`);
    await buildWithTbuild(seed, app.dir, [
      '-t',
      TAG,
      '--cache-to',
      `type=registry,ref=${cacheRef},mode=max`,
    ]);
    if (env.tools.includes('buildkit')) {
      await buildWithBuildkit(app.dir, ['--build-arg', 'BUILDKIT_INLINE_CACHE=1', '-t', inlineRef]);
      await runDocker(['push', inlineRef]);
    }
    const stores: string[] = [];
    const build = async (tool: Tool) => {
      if (tool === 'tbuild') {
        const store = await env.newStore(`${NAME}-${stores.length}`);
        stores.push(store);
        return (
          await buildWithTbuild(store, app.dir, [
            '-t',
            TAG,
            '--cache-from',
            `type=registry,ref=${cacheRef}`,
          ])
        ).ms;
      }
      await forgetDocker();
      return (await buildWithBuildkit(app.dir, ['-t', TAG, '--cache-from', inlineRef])).ms;
    };
    env.log(`${NAME}: no source changed ×${env.runs}`);
    const same = await alternate(env.runs, env.tools, build);
    for (const store of stores.splice(0)) await env.removeStore(store);
    env.log(`${NAME}: one source file changed ×${env.runs}`);
    const changed = await alternate(env.runs, env.tools, (tool, round) => {
      app.changeSource(`${tool} ${round} ${Date.now()}`);
      return build(tool);
    });
    for (const store of stores.splice(0)) await env.removeStore(store);
    if (env.tools.includes('buildkit')) await forgetDocker();
    // tbuild only (Docker's builder has no push of its own): a fully cached build that
    // pushes to the cache's registry, whose layers are mounted there, never fetched.
    const pushed: number[] = [];
    if (env.tools.includes('tbuild')) {
      app.changeSource(`pushed ${Date.now()}`);
      const seeded = await env.newStore(`${NAME}-push-seed`);
      stores.push(seeded);
      await buildWithTbuild(seeded, app.dir, [
        '--cache-to',
        `type=registry,ref=${cacheRef},mode=max`,
      ]);
      env.log(`${NAME}: no source changed, --push to the cache's registry ×${env.runs} (tbuild)`);
      for (let i = 0; i < env.runs; i++) {
        const store = await env.newStore(`${NAME}-push-${i}`);
        stores.push(store);
        pushed.push(
          (
            await buildWithTbuild(store, app.dir, [
              '--cache-from',
              `type=registry,ref=${cacheRef}`,
              '--push',
              '-t',
              `${registry.host}/bench/fresh-ci:app`,
            ])
          ).ms,
        );
      }
      for (const store of stores.splice(0)) await env.removeStore(store);
    }
    return [
      makeRow(NAME, 'cache import, no source changed', same, { target: '≤ 0.7' }),
      makeRow(NAME, 'cache import, one source file changed', changed, { target: '≤ 1.0' }),
      ...(pushed.length
        ? [
            makeRow(NAME, 'cache import, no change, --push to the cache registry', {
              tbuild: pushed,
            }),
          ]
        : []),
    ];
  } finally {
    await registry.stop();
  }
}

/**
 * Docker as a fresh runner: no build cache and no images, tagged or dangling (those hold
 * unpacked layers too). No container uses them, so `image prune -a` removes them all.
 */
async function forgetDocker(): Promise<void> {
  await runDocker(['builder', 'prune', '-af']);
  await runDocker(['image', 'prune', '-af']);
}

export const freshCi: Scenario = {
  name: NAME,
  describe:
    'Empty store / pruned Docker importing a registry cache of the small app: no change, one file changed',
  run,
};
