/**
 * Record what Docker's build checks report for each lint case, as the expectations tbuild's
 * `build --check` is compared with: `node scripts/checks-record.ts [case…]`.
 * Needs the reference systems: Docker 28.5 with buildx (`docker28`, or the client named by
 * $DOCKER) and localhost:5000/busybox in the loopback registry on 127.0.0.1:5000. Writes test/checks/expected/<case>.json (rules, lines, messages, exit code)
 * and <case>.txt (what `--check` prints on stdout). Not run in CI.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { listCheckCases, sortWarnings } from '../test/checks/cases.ts';
import type { CheckCase, CheckExpectation } from '../test/checks/cases.ts';

const DOCKER = process.env.DOCKER ?? 'docker28';

interface LintJson {
  warnings?: Array<{
    ruleName: string;
    detail: string;
    location?: { ranges?: Array<{ start?: { line?: number } }> };
  }>;
  buildError?: {
    message: string;
    location?: { ranges?: Array<{ start?: { line?: number } }> };
  };
}

function run(
  args: string[],
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER, args, {
      cwd,
      env: { ...process.env, BUILDKIT_PROGRESS: 'plain', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const firstLine = (loc?: { ranges?: Array<{ start?: { line?: number } }> }) =>
  loc?.ranges?.[0]?.start?.line;

/** Runs from the case's folder with `-f Dockerfile`, so messages name the file `Dockerfile`. */
async function recordCase(
  c: CheckCase,
  emptyContext: string,
): Promise<{ expected: CheckExpectation; text: string }> {
  const flags = Object.entries(c.spec.buildArgs ?? {}).flatMap(([k, v]) => [
    '--build-arg',
    `${k}=${v}`,
  ]);
  if (c.spec.target) flags.push('--target', c.spec.target);
  const check = (call: string) =>
    run(
      [
        'buildx',
        'build',
        '--network=host',
        call,
        ...flags,
        '-f',
        'Dockerfile',
        c.context ?? emptyContext,
      ],
      path.dirname(c.dockerfile),
    );
  const result = await check('--call=check,format=json');
  const text = await check('--check');
  let json: LintJson;
  try {
    json = JSON.parse(result.stdout) as LintJson;
  } catch {
    // Refused before any check ran (e.g. a bad BUILDKIT_DOCKERFILE_CHECK): only an error.
    const error = /^ERROR: (?:failed to build: )?(?:failed to solve: )?(.*)$/m.exec(result.stderr);
    if (!error || text.code === 0)
      throw new Error(`${c.name}: no check result (exit ${result.code}):\n${result.stderr}`);
    return {
      expected: { exitCode: text.code ?? -1, warnings: [], error: { message: error[1]! } },
      text: text.stdout,
    };
  }
  const expected: CheckExpectation = {
    exitCode: text.code ?? -1,
    warnings: sortWarnings(
      (json.warnings ?? []).map((w) => ({
        rule: w.ruleName,
        line: firstLine(w.location) ?? 0,
        message: w.detail,
      })),
    ),
  };
  if (json.buildError) {
    const line = firstLine(json.buildError.location);
    expected.error = { message: json.buildError.message, ...(line ? { line } : {}) };
  }
  return { expected, text: text.stdout };
}

async function main(): Promise<void> {
  const emptyContext = await mkdtemp(path.join(os.tmpdir(), 'checks-ctx-'));
  try {
    for (const c of listCheckCases(process.argv.slice(2))) {
      const { expected, text } = await recordCase(c, emptyContext);
      await writeFile(c.expectedFile, JSON.stringify(expected, null, 2) + '\n');
      await writeFile(c.expectedFile.replace(/\.json$/, '.txt'), text);
      const error = expected.error ? `, error: ${expected.error.message}` : '';
      console.log(`${c.name}: ${expected.warnings.length} warning(s)${error}`);
    }
  } finally {
    await rm(emptyContext, { recursive: true, force: true });
  }
}

await main();
