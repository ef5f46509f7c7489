/**
 * The build-check cases on disk: test/checks/cases/<name>/{Dockerfile,case.json?,context/?}.
 * Each one's expectation, test/checks/expected/<name>.json, is what `docker buildx build
 * --check` (Docker 28.5) reported for it. Shared by the recorder (scripts/checks-record.ts)
 * and the comparison test.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CHECKS_DIR = path.dirname(fileURLToPath(import.meta.url));
export const CASES_DIR = path.join(CHECKS_DIR, 'cases');
export const EXPECTED_DIR = path.join(CHECKS_DIR, 'expected');

/** The base image every case uses: the reference registry's busybox. */
export const BASE_IMAGE = 'localhost:5000/busybox:latest';

export interface CheckCaseSpec {
  buildArgs?: Record<string, string>;
  target?: string;
}

export interface CheckCase {
  name: string;
  dockerfile: string;
  /** The case's context/ folder, or undefined for an empty context. */
  context: string | undefined;
  spec: CheckCaseSpec;
  expectedFile: string;
}

/** One reported check, reduced to what the comparison looks at. */
export interface RecordedWarning {
  rule: string;
  line: number;
  message: string;
}

export interface CheckExpectation {
  /** `docker buildx build --check`'s exit status: 1 when it found warnings or an error. */
  exitCode: number;
  warnings: RecordedWarning[];
  /** The error that stopped the check (a parse error, or `check=error=true` tripping). */
  error?: { message: string; line?: number };
}

/** All cases, sorted by name (or only those named). */
export function listCheckCases(only: readonly string[] = []): CheckCase[] {
  const names = readdirSync(CASES_DIR).sort();
  const unknown = only.filter((n) => !names.includes(n));
  if (unknown.length) throw new Error(`unknown check case(s): ${unknown.join(', ')}`);
  return names
    .filter((n) => only.length === 0 || only.includes(n))
    .map((name) => {
      const dir = path.join(CASES_DIR, name);
      const specFile = path.join(dir, 'case.json');
      const context = path.join(dir, 'context');
      return {
        name,
        dockerfile: path.join(dir, 'Dockerfile'),
        context: existsSync(context) ? context : undefined,
        spec: existsSync(specFile)
          ? (JSON.parse(readFileSync(specFile, 'utf8')) as CheckCaseSpec)
          : {},
        expectedFile: path.join(EXPECTED_DIR, `${name}.json`),
      };
    });
}

/** Warnings in a stable order: by line, then rule, then message (BuildKit's order within a line is not stable). */
export function sortWarnings(warnings: readonly RecordedWarning[]): RecordedWarning[] {
  return [...warnings].sort(
    (a, b) => a.line - b.line || a.rule.localeCompare(b.rule) || a.message.localeCompare(b.message),
  );
}
