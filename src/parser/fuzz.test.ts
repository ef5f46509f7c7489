/**
 * Fuzzing with a fixed seed: thousands of random and mutated Dockerfiles (from the
 * golden fixtures) must either parse or fail with a DockerfileParseError that points at
 * real lines. Anything else (a TypeError, an infinite loop, a range past the end) is a bug.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { DockerfileParseError } from './errors.ts';
import { parseDockerfile } from './parser.ts';
import type { Instruction, LineRange } from './types.ts';

/** mulberry32: small, fast and reproducible. */
function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOKENS = [
  '\\',
  '\\\n',
  '`',
  '`\n',
  '"',
  "'",
  '<<',
  '<<-',
  '<<EOF',
  '\nEOF\n',
  '3<<',
  '\n',
  '\r\n',
  ' ',
  '\t',
  '#',
  '# escape=`\n',
  '# syntax=x\n',
  '=',
  '[',
  ']',
  '["a"]',
  '[1]',
  '{',
  '}',
  '$',
  '${',
  '--',
  '--mount=',
  'RUN ',
  'ENV ',
  'LABEL ',
  'ONBUILD ',
  'HEALTHCHECK CMD ',
  'SHELL ',
  'COPY ',
  'x',
  '\uFEFF',
  '\u00a0',
  'é',
];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function mutate(random: () => number, text: string): string {
  let out = text;
  const edits = 1 + Math.floor(random() * 6);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(random() * (out.length + 1));
    const op = Math.floor(random() * 5);
    if (op === 0) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(random() * 8));
    else if (op === 1) out = out.slice(0, at) + pick(random, TOKENS) + out.slice(at);
    else if (op === 2) {
      const length = Math.floor(random() * 40);
      out = out.slice(0, at) + out.slice(at, at + length) + out.slice(at);
    } else if (op === 3) out = out.slice(0, at);
    else out = out.slice(0, at) + String.fromCharCode(Math.floor(random() * 128)) + out.slice(at);
  }
  return out;
}

function randomDockerfile(random: () => number): string {
  let out = '';
  const length = Math.floor(random() * 30);
  for (let i = 0; i < length; i++) out += pick(random, TOKENS);
  return out;
}

function countLines(text: string): number {
  return (text.match(/[^\n]*\n|[^\n]+$/g) ?? []).length;
}

function expectRangeWithin(range: LineRange, lines: number): void {
  expect(Number.isInteger(range.start) && Number.isInteger(range.end)).toBe(true);
  expect(range.start).toBeGreaterThanOrEqual(1);
  expect(range.end).toBeGreaterThanOrEqual(range.start);
  expect(range.end).toBeLessThanOrEqual(Math.max(1, lines));
}

function checkInstruction(instruction: Instruction, lines: number): void {
  expectRangeWithin(instruction.range, lines);
  expect(instruction.name).toBe(instruction.name.toUpperCase());
  expect(instruction.args.every((arg) => typeof arg === 'string')).toBe(true);
  if (instruction.next) checkInstruction(instruction.next, lines);
}

/** Parses one input and checks the outcome is a well-formed result or a typed error. */
function checkParse(text: string): 'ok' | 'error' {
  const lines = countLines(text);
  try {
    const result = parseDockerfile(text);
    let previousEnd = 0;
    for (const instruction of result.instructions) {
      checkInstruction(instruction, lines);
      expect(instruction.range.start).toBeGreaterThan(previousEnd);
      previousEnd = instruction.range.end;
    }
    return 'ok';
  } catch (error) {
    if (!(error instanceof DockerfileParseError)) {
      throw new Error(`unexpected ${String(error)} for input ${JSON.stringify(text)}`, {
        cause: error,
      });
    }
    expect(error.code).toBe('TBUILD_DOCKERFILE_PARSE');
    expectRangeWithin(error.location.range, lines);
    expect(error.hint.length).toBeGreaterThan(0);
    return 'error';
  }
}

function loadSeeds(): string[] {
  const root = fileURLToPath(new URL('../../fixtures/parser/', import.meta.url));
  const dirs = [root, join(root, 'negative')];
  return dirs.flatMap((dir) =>
    readdirSync(dir)
      .map((name) => join(dir, name, 'Dockerfile'))
      .filter((path) => existsSync(path))
      .map((path) => readFileSync(path, 'utf8')),
  );
}

test('thousands of mutated and random Dockerfiles parse or fail with a located DockerfileParseError', () => {
  const random = createRandom(0x7b0d);
  const seeds = loadSeeds();
  const outcomes = { ok: 0, error: 0 };
  for (let i = 0; i < 3000; i++) outcomes[checkParse(mutate(random, pick(random, seeds)))]++;
  for (let i = 0; i < 1500; i++) outcomes[checkParse(randomDockerfile(random))]++;
  // Both outcomes must be exercised, or the fuzzer is not reaching the interesting paths.
  expect(outcomes.ok).toBeGreaterThan(500);
  expect(outcomes.error).toBeGreaterThan(100);
});
