/**
 * Scenario 2: four independent CPU-bound stages (each hashes ~250 MB of zeros with
 * busybox sha256sum, about a second of one core) and a final stage copying their
 * outputs. Built cold every time (Docker --no-cache, tbuild in a fresh store), so it measures how well each builder
 * runs independent stages at once on this machine's cores.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { alternate } from '../support/measure.ts';
import { makeRow } from '../support/rows.ts';
import { buildWithBuildkit, buildWithTbuild, runTbuild } from '../support/tools.ts';
import type { Tool } from '../support/tools.ts';
import type { BenchEnv, Row, Scenario } from '../support/types.ts';

const NAME = 'parallel-stages';
const STAGES = ['a', 'b', 'c', 'd'];
const BASE = 'localhost:5000/busybox:latest';

/** Each stage's command differs, so no builder may merge them into one step. */
function makeDockerfile(bytes: number): string {
  const stages = STAGES.map(
    (s) => `FROM ${BASE} AS ${s}
RUN head -c ${bytes} /dev/zero | sha256sum > /out-${s}
`,
  );
  const copies = STAGES.map((s) => `COPY --from=${s} /out-${s} /out/${s}`);
  return `${stages.join('\n')}
FROM ${BASE}
${copies.join('\n')}
RUN cat /out/*
`;
}

/**
 * A cold build: Docker with --no-cache; tbuild in a fresh store (made untimed), which is
 * as cold as --no-cache and does not depend on that flag's parsing. The fresh store gets
 * the base image first, untimed: Docker has it locally, and its pull (~0.2 s) is not what
 * this scenario measures (before, tbuild's rows included it).
 */
async function buildCold(
  env: BenchEnv,
  tool: Tool,
  context: string,
  extra: string[],
): Promise<number> {
  if (tool === 'buildkit') return (await buildWithBuildkit(context, ['--no-cache', ...extra])).ms;
  const store = await env.newStore(`parallel-${++stores}`);
  try {
    await runTbuild(store, ['pull', BASE]);
    return (await buildWithTbuild(store, context, extra)).ms;
  } finally {
    await env.removeStore(store);
  }
}

let stores = 0;

async function run(env: BenchEnv): Promise<Row[]> {
  const bytes = Number(process.env.BENCH_HASH_BYTES ?? 250_000_000);
  const context = path.join(env.work, 'parallel-stages');
  mkdirSync(context, { recursive: true });
  writeFileSync(path.join(context, 'Dockerfile'), makeDockerfile(bytes));
  const tag = ['-t', 'tbuild-bench/parallel:latest'];

  env.log(`${NAME}: one stage alone, for the serial estimate`);
  const single = path.join(env.work, 'single-stage');
  mkdirSync(single, { recursive: true });
  writeFileSync(
    path.join(single, 'Dockerfile'),
    `FROM ${BASE}\nRUN head -c ${bytes} /dev/zero | sha256sum > /out\n`,
  );
  const one = await alternate(1, env.tools, (tool) => buildCold(env, tool, single, []));

  env.log(`${NAME}: four stages cold ×${env.runs}`);
  const four = await alternate(env.runs, env.tools, (tool) => buildCold(env, tool, context, tag));
  return [
    makeRow(NAME, 'one CPU-bound stage cold', one, { note: 'one run; ×4 = serial estimate' }),
    makeRow(NAME, 'four CPU-bound stages cold', four),
  ];
}

export const parallelStages: Scenario = {
  name: NAME,
  describe: 'four independent CPU-bound stages and a final COPY --from of each, --no-cache',
  run,
};
