/**
 * The Action under a second harness, GitHub's own `@github/local-action` (devDependency):
 * it reads action.yml, sets the inputs from a dotenv file as the runner would, and calls the
 * entrypoint's `run()` (src/action/main.ts) through tsx. A real build with a RUN step that
 * pushes to a loopback registry. local-action stubs @actions/core to collect outputs; tbuild's
 * Action writes the runner's files itself (src/action/runner.ts), so the outputs are read
 * from GITHUB_OUTPUT, as the runner reads them.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFileCommands } from '../helpers/action-harness.ts';
import { ensureBusyboxImage } from '../helpers/base-images.ts';
import { makeContext } from '../helpers/build-harness.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { REPO_ROOT } from '../helpers/run-tbuild.ts';

const run = promisify(execFile);
const LOCAL_ACTION = path.join(REPO_ROOT, 'node_modules/.bin/local-action');

let registry: TestRegistry;
let dir: string;
beforeAll(async () => {
  registry = await startRegistry();
  dir = await mkdtemp(path.join(tmpdir(), 'tbuild-local-action-'));
});
afterAll(async () => {
  await registry?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the Action under @github/local-action', () => {
  it('builds with a RUN step, pushes, and writes imageid and digest', async () => {
    const workspace = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox:latest\nRUN echo local > /where\n',
    });
    const runnerTemp = path.join(dir, '_temp');
    await ensureBusyboxImage(path.join(runnerTemp, 'tbuild'));
    const output = path.join(dir, 'output');
    const summary = path.join(dir, 'summary');
    await Promise.all([writeFile(output, ''), writeFile(summary, '')]);
    const tag = `${registry.host}/local-action/app:1`;
    const envFile = path.join(dir, '.env');
    await writeFile(
      envFile,
      [
        `INPUT_CONTEXT=${workspace}`,
        `INPUT_TAGS=${tag}`,
        'INPUT_PUSH=true',
        `GITHUB_WORKSPACE=${workspace}`,
        `RUNNER_TEMP=${runnerTemp}`,
        `GITHUB_OUTPUT=${output}`,
        `GITHUB_STEP_SUMMARY=${summary}`,
        '',
      ].join('\n'),
    );
    const result = await run(LOCAL_ACTION, ['run', REPO_ROOT, 'src/action/main.ts', envFile], {
      // local-action starts `npx tsx`, which npx finds in the repository's node_modules.
      cwd: REPO_ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(result.stdout).toContain(`pushing ${tag}`);
    const outputs = parseFileCommands(await readFile(output, 'utf8'));
    expect(outputs.imageid).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(outputs.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(JSON.parse(outputs.metadata!)['containerimage.digest']).toBe(outputs.digest);
    expect(await readFile(summary, 'utf8')).toContain(outputs.digest!);
    const pushed = await run('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${tag}`,
    ]);
    expect(pushed.stdout).toContain('"config"');
  }, 300_000);
});
