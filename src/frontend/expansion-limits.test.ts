/**
 * Hostile Dockerfiles cannot make expansion exhaust memory (issue 14, item 4): one word
 * expands to at most 1 MiB, a Dockerfile's expansions total at most 64 MiB, and a
 * Dockerfile is at most 4 MiB. Each refusal is a typed error that names the line.
 */
import { describe, expect, it } from 'vitest';
import { DockerfileParseError } from '../parser/errors.ts';
import { ExpansionLimitError } from '../parser/lexer-errors.ts';
import { MAX_DOCKERFILE_BYTES, MAX_EXPANDED_WORD, MAX_TOTAL_EXPANSION } from '../parser/limits.ts';
import { processWord } from '../parser/shell-lexer.ts';
import { lower } from './testing/lower.ts';

/** `ARG A1=${A0}${A0}` … `levels` deep: A<n> is 16·2ⁿ characters. */
function doubling(levels: number, stage = true): string {
  const lines = [stage ? 'FROM scratch' : '', 'ARG A0=xxxxxxxxxxxxxxxx'];
  for (let i = 1; i <= levels; i++) lines.push(`ARG A${i}=\${A${i - 1}}\${A${i - 1}}`);
  return lines.filter(Boolean).join('\n') + '\n';
}

async function failure(text: string): Promise<unknown> {
  return lower(text).then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('expansion limits', () => {
  it('refuses exponential ARG expansion at the line that passes 1 MiB, without running out of memory', async () => {
    const error = await failure(`${doubling(30)}LABEL a=$A30\n`);
    expect(error).toBeInstanceOf(ExpansionLimitError);
    const e = error as ExpansionLimitError;
    expect(e.code).toBe('TBUILD_EXPANSION_LIMIT');
    // A16 is 1 MiB exactly; A17 is the first word over the limit (line 2 + 17).
    expect(e.location?.range).toEqual({ start: 19, end: 19 });
    expect(e.message).toContain('1 MiB');
  });

  it('refuses the same chain in global ARGs (before FROM)', async () => {
    const error = await failure(`${doubling(30, false)}FROM scratch\n`);
    expect(error).toBeInstanceOf(ExpansionLimitError);
    expect((error as ExpansionLimitError).location?.range?.start).toBe(18);
  });

  it('accepts a word of exactly 1 MiB', async () => {
    const result = await lower(`${doubling(16)}LABEL a=$A16\n`);
    expect(result.image.config.Labels?.a).toHaveLength(MAX_EXPANDED_WORD);
  });

  it('bounds the total expansion of a Dockerfile to 64 MiB', async () => {
    const labels = Array.from({ length: 80 }, (_, i) => `LABEL l${i}=$A16`).join('\n');
    const error = await failure(`${doubling(16)}${labels}\n`);
    expect(error).toBeInstanceOf(ExpansionLimitError);
    const e = error as ExpansionLimitError;
    expect(e.limit).toBe(MAX_TOTAL_EXPANSION);
    const line = e.location?.range?.start ?? 0;
    // 18 lines of ARGs, then labels of 1 MiB each: the budget runs out within the labels.
    expect(line).toBeGreaterThan(18 + 32);
    expect(line).toBeLessThanOrEqual(18 + 64);
  });

  it('stops ${A//x/${A}} before building a terabyte string', () => {
    const big = 'x'.repeat(MAX_EXPANDED_WORD);
    expect(() => processWord('${A//x/${A}}', (n) => (n === 'A' ? big : undefined))).toThrow(
      ExpansionLimitError,
    );
  });

  it('refuses a Dockerfile over 4 MiB before parsing it', async () => {
    const error = await failure(`FROM scratch\nLABEL a=${'x'.repeat(MAX_DOCKERFILE_BYTES)}\n`);
    expect(error).toBeInstanceOf(DockerfileParseError);
    expect((error as Error).message).toMatch(/at most 4 MiB/);
  });
});
