/**
 * The conformance cases on disk: test/conformance/cases/<name>/{Dockerfile,case.json,context/,setup.sh}.
 * Shared by the recorder (scripts/conformance-record.ts) and the test.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const CONFORMANCE_DIR = path.dirname(fileURLToPath(import.meta.url));
export const CASES_DIR = path.join(CONFORMANCE_DIR, 'cases');
export const EXPECTED_DIR = path.join(CONFORMANCE_DIR, 'expected');

export interface CaseSpec {
  buildArgs: Record<string, string>;
  target: string | null;
  mustFail: { messageIncludes: string } | null;
  expectedFrom: 'docker' | 'reference';
  /** The Dockerfile Docker builds instead (an equivalent one, for syntax Docker 20.10 lacks). */
  recordWith?: string;
  /** false: compare all files, not only those that differ from the busybox base (FROM scratch). */
  baseline?: boolean;
  /**
   * Paths Docker 20.10 leaves in the image by a bug that later BuildKit fixed: the recorder
   * drops them from Docker's result when present (they are absent with Docker 28.5), so
   * tbuild is held to the fixed behaviour.
   */
  notCopiedFromDocker?: { paths: string[]; reason: string };
  /** Docker behaviour judged a bug and not copied: the case is skipped with this reason. */
  knownDifference?: string;
}

export interface ConformanceCase {
  name: string;
  dir: string;
  dockerfile: string;
  context: string;
  spec: CaseSpec;
  expectedFile: string;
}

/** All cases, sorted by name (or only those named). */
export function listCases(only: readonly string[] = []): ConformanceCase[] {
  const names = readdirSync(CASES_DIR).sort();
  const unknown = only.filter((n) => !names.includes(n));
  if (unknown.length) throw new Error(`unknown conformance case(s): ${unknown.join(', ')}`);
  return names
    .filter((n) => only.length === 0 || only.includes(n))
    .map((name) => {
      const dir = path.join(CASES_DIR, name);
      return {
        name,
        dir,
        dockerfile: path.join(dir, 'Dockerfile'),
        context: path.join(dir, 'context'),
        spec: JSON.parse(readFileSync(path.join(dir, 'case.json'), 'utf8')) as CaseSpec,
        expectedFile: path.join(EXPECTED_DIR, `${name}.json`),
      };
    });
}

/** Run the case's setup.sh (special files git cannot store), when it has one. */
export async function prepareCase(c: ConformanceCase): Promise<void> {
  const setup = path.join(c.dir, 'setup.sh');
  if (existsSync(setup)) await execFileAsync('sh', [setup], { cwd: c.dir });
}

/** `--build-arg K=V …` and `--target T` as both docker and tbuild take them. */
export function buildFlags(spec: CaseSpec): string[] {
  const flags: string[] = [];
  for (const [k, v] of Object.entries(spec.buildArgs)) flags.push('--build-arg', `${k}=${v}`);
  if (spec.target) flags.push('--target', spec.target);
  return flags;
}

/** What a must-fail case's expected JSON holds. */
export interface ExpectedFailure {
  mustFail: true;
  exitCode: number | null;
  /** The Dockerfile line the failure is reported at; null when Docker names none. */
  line: number | null;
  /** Docker's error lines, for reading: the test compares the exit code and the line only. */
  stderrExcerpt: string;
}
