/**
 * Same Dockerfile, same image: every case under test/conformance/cases is built by tbuild and
 * its image (config and every file's type, mode, owner, content) compared with what Docker's
 * BuildKit produced for it, recorded in test/conformance/expected by
 * scripts/conformance-record.ts. Must-fail cases must fail as Docker did (exit code, and the
 * Dockerfile line the error is shown at; not Docker's wording), with tbuild's own clear
 * message, and leave nothing behind.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBusyboxImage, makeBusyboxRootfsTar } from '../helpers/base-images.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';
import { buildFlags, listCases, prepareCase } from './cases.ts';
import type { ConformanceCase, ExpectedFailure } from './cases.ts';
import { summarizeDockerArchive, summarizeRootfsTar } from './summarize.ts';
import type { FileMap } from './summarize.ts';

let work: string;
let store: string;
let baseline: FileMap;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'tbuild-conformance-'));
  store = path.join(work, 'store');
  await ensureBusyboxImage(store);
  const rootfs = path.join(work, 'busybox.tar');
  await makeBusyboxRootfsTar(rootfs);
  baseline = await summarizeRootfsTar(rootfs);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function buildCase(c: ConformanceCase, dest: string) {
  await prepareCase(c);
  return runTbuild([
    'build',
    '--root',
    store,
    '--progress=plain',
    '-o',
    `type=docker,dest=${dest}`,
    ...(c.spec.mustFail ? ['-t', `tbuild-conf/${c.name}`] : []),
    ...buildFlags(c.spec),
    '-f',
    c.dockerfile,
    c.context,
  ]);
}

async function expectBuilds(c: ConformanceCase): Promise<void> {
  const expected: unknown = JSON.parse(readFileSync(c.expectedFile, 'utf8'));
  const dir = await mkdtemp(path.join(work, `${c.name}-`));
  const dest = path.join(dir, 'img.tar');
  const result = await buildCase(c, dest);
  expect(result.code, `tbuild build failed:\n${result.stderr}`).toBe(0);
  const actual = await summarizeDockerArchive(dest, c.spec.baseline === false ? {} : { baseline });
  expect(actual).toEqual(expected);
}

/** The Dockerfile line an error is shown at (`…/Dockerfile:3`), or null. */
function failedLine(stderr: string): number | null {
  const m = /(?:^|\/)Dockerfile:(\d+)$/m.exec(stderr);
  return m ? Number(m[1]) : null;
}

/** Docker's failure, as recorded: the exit code and the line count; its wording does not. */
async function expectFails(c: ConformanceCase, messageIncludes: string): Promise<void> {
  const expected = JSON.parse(readFileSync(c.expectedFile, 'utf8')) as ExpectedFailure;
  const dir = await mkdtemp(path.join(work, `${c.name}-`));
  const dest = path.join(dir, 'img.tar');
  const result = await buildCase(c, dest);
  expect(result.code, 'the build must exit, not be killed').not.toBeNull();
  expect(result.code, `exit code:\n${result.stderr}`).toBe(expected.exitCode);
  expect(failedLine(result.stderr), `Dockerfile line:\n${result.stderr}`).toBe(expected.line);
  expect(result.stderr).toContain(messageIncludes);
  expect(existsSync(dest), 'nothing is written to the output dest').toBe(false);
  const images = await runTbuild(['images', '--root', store]);
  expect(images.code, images.stderr).toBe(0);
  expect(images.stdout).not.toContain(`tbuild-conf/${c.name}`);
}

describe('conformance with Docker BuildKit', () => {
  for (const c of listCases()) {
    const { knownDifference, mustFail } = c.spec;
    if (knownDifference) {
      it.skip(`${c.name} (known difference: ${knownDifference})`, () => undefined);
      continue;
    }
    if (!existsSync(c.expectedFile)) {
      it.todo(`${c.name} (no recorded expectation: run scripts/conformance-record.ts)`);
      continue;
    }
    it(c.name, () => (mustFail ? expectFails(c, mustFail.messageIncludes) : expectBuilds(c)));
  }
});
