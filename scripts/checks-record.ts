/**
 * Record what Docker's build checks report for each lint case, as the expectations tbuild's
 * `build --check` is compared with: `node scripts/checks-record.ts [case…]`.
 * Needs the reference systems (docs/dev/reference-systems.md): Docker 28.5 with buildx
 * (`docker28`, or the client named by $DOCKER) and localhost:5000/busybox in the loopback
 * registry. Writes test/checks/expected/<case>.json. Not run in CI.
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

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER, args, {
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

async function recordCase(c: CheckCase, emptyContext: string): Promise<CheckExpectation> {
  const flags = Object.entries(c.spec.buildArgs ?? {}).flatMap(([k, v]) => [
    '--build-arg',
    `${k}=${v}`,
  ]);
  if (c.spec.target) flags.push('--target', c.spec.target);
  const result = await run([
    'buildx',
    'build',
    '--network=host',
    '--call=check,format=json',
    ...flags,
    '-f',
    c.dockerfile,
    c.context ?? emptyContext,
  ]);
  let json: LintJson;
  try {
    json = JSON.parse(result.stdout) as LintJson;
  } catch {
    throw new Error(`${c.name}: no check result (exit ${result.code}):\n${result.stderr}`);
  }
  const expected: CheckExpectation = {
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
  return expected;
}

async function main(): Promise<void> {
  const emptyContext = await mkdtemp(path.join(os.tmpdir(), 'checks-ctx-'));
  try {
    for (const c of listCheckCases(process.argv.slice(2))) {
      const expected = await recordCase(c, emptyContext);
      await writeFile(c.expectedFile, JSON.stringify(expected, null, 2) + '\n');
      const error = expected.error ? `, error: ${expected.error.message}` : '';
      console.log(`${c.name}: ${expected.warnings.length} warning(s)${error}`);
    }
  } finally {
    await rm(emptyContext, { recursive: true, force: true });
  }
}

await main();
