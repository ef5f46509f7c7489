/**
 * Record what Docker's BuildKit produces for each conformance case, as the expectations the
 * conformance test compares tbuild with: `node scripts/conformance-record.ts [case…]`.
 * Needs the reference systems (docs/dev/reference-systems.md): Docker 28.5 with current
 * BuildKit (`docker28`, the default; `DOCKER=…` picks another client) and
 * localhost:5000/busybox in the loopback registry. Writes test/conformance/expected/<case>.json.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeBusyboxRootfsTar } from '../test/helpers/base-images.ts';
import { buildFlags, listCases, prepareCase } from '../test/conformance/cases.ts';
import type { ConformanceCase, ExpectedFailure } from '../test/conformance/cases.ts';
import {
  sortKeys,
  summarizeDockerArchive,
  summarizeRootfsTar,
} from '../test/conformance/summarize.ts';
import type { FileMap } from '../test/conformance/summarize.ts';

/** Docker 28.5 with current BuildKit: the builder users run today (ADR 0015). */
const DOCKER = process.env.DOCKER ?? 'docker28';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, DOCKER_BUILDKIT: '1', BUILDKIT_PROGRESS: 'plain', NO_COLOR: '1' },
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

/** The error lines of a failed build, without timings, so that re-recording is stable. */
function excerptError(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => /error|failed|unknown|not found|exit code/i.test(l))
    .map((l) =>
      l
        .replace(/^#\d+ \d+\.\d+ /, '')
        .replace(/\s+\d+\.\d+s$/, '')
        .replace(/ref [\w-]+::\w+/g, 'ref <ref>'),
    )
    .slice(-6)
    .join('\n');
}

/** The Dockerfile line Docker names for a failure (`Dockerfile:2`), or null when it names none. */
function failedLine(stderr: string): number | null {
  const m = /(?:^|\/)Dockerfile:(\d+)$/m.exec(stderr);
  return m ? Number(m[1]) : null;
}

/** Without an equivalent Dockerfile, a reference case's expectation is written by hand. */
function isHandWritten(c: ConformanceCase): boolean {
  return c.spec.expectedFrom === 'reference' && c.spec.recordWith === undefined;
}

async function recordCase(c: ConformanceCase, baseline: FileMap, tmp: string): Promise<string> {
  if (isHandWritten(c)) return 'kept (hand-written reference expectation)';
  await prepareCase(c);
  const tag = `tbuild-conf/${c.name}`;
  const dockerfile = path.join(c.dir, c.spec.recordWith ?? 'Dockerfile');
  const build = await run(DOCKER, [
    'build',
    '--network=host',
    '--progress=plain',
    '-t',
    tag,
    ...buildFlags(c.spec),
    '-f',
    dockerfile,
    c.context,
  ]);
  let expected: unknown;
  if (c.spec.mustFail) {
    if (build.code === 0) throw new Error(`${c.name}: must fail, but Docker built it`);
    expected = {
      mustFail: true,
      exitCode: build.code,
      line: failedLine(build.stderr),
      stderrExcerpt: excerptError(build.stderr),
    } satisfies ExpectedFailure;
  } else {
    if (build.code !== 0) throw new Error(`${c.name}: docker build failed:\n${build.stderr}`);
    const archive = path.join(tmp, `${c.name}.tar`);
    const save = await run(DOCKER, ['save', '-o', archive, tag]);
    if (save.code !== 0) throw new Error(`${c.name}: docker save failed:\n${save.stderr}`);
    const summary = await summarizeDockerArchive(archive, {
      ...(c.spec.baseline === false ? {} : { baseline }),
    });
    // Current BuildKit leaves none of these paths; older Docker (DOCKER=/usr/bin/docker) does.
    for (const p of c.spec.notCopiedFromDocker?.paths ?? []) delete summary.files[p];
    expected = summary;
    await rm(archive, { force: true });
    await run(DOCKER, ['rmi', tag]);
  }
  await writeFile(c.expectedFile, JSON.stringify(sortKeys(expected), null, 2) + '\n');
  return c.spec.mustFail ? `failed as expected (exit ${String(build.code)})` : 'recorded';
}

async function main(names: string[]): Promise<number> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'tbuild-conf-record-'));
  let failures = 0;
  try {
    const rootfs = path.join(tmp, 'busybox.tar');
    await makeBusyboxRootfsTar(rootfs);
    const baseline = await summarizeRootfsTar(rootfs);
    for (const c of listCases(names)) {
      try {
        process.stdout.write(`${c.name}: ${await recordCase(c, baseline, tmp)}\n`);
      } catch (error) {
        failures++;
        process.stderr.write(`${c.name}: ${(error as Error).message}\n`);
      }
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return failures ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
