import { describe, expect, test } from 'vitest';
import { DockerfileParseError } from './errors.ts';
import { parseHeredocWord } from './heredoc.ts';
import { parseDockerfile } from './parser.ts';
import { formatParseResultText } from './result-format.ts';

function parseError(text: string): DockerfileParseError {
  try {
    parseDockerfile(text, { file: 'Dockerfile.test' });
  } catch (error) {
    if (error instanceof DockerfileParseError) return error;
    throw error;
  }
  throw new Error('expected a DockerfileParseError');
}

describe('parseDockerfile', () => {
  test('an instruction spans its continuation lines and heredoc body', () => {
    const result = parseDockerfile('FROM a\nRUN x \\\n  y <<EOF\nbody\nEOF\nCMD z\n');
    expect(result.instructions.map((i) => i.range)).toEqual([
      { start: 1, end: 1 },
      { start: 2, end: 5 },
      { start: 6, end: 6 },
    ]);
    expect(result.instructions[1]!.original).toBe('RUN x   y <<EOF');
  });

  test('the escape directive changes the continuation character', () => {
    const result = parseDockerfile('# escape=`\nFROM a\nRUN dir c:\\ `\n  && echo\n');
    expect(result.escapeToken).toBe('`');
    expect(result.instructions[1]!.args).toEqual(['dir c:\\   && echo']);
  });

  test('errors carry the file, the instruction range and a hint', () => {
    const error = parseError('FROM a\nENV A=1 \\\n  B\n');
    expect(error.code).toBe('TBUILD_DOCKERFILE_PARSE');
    expect(error.location).toEqual({ file: 'Dockerfile.test', range: { start: 2, end: 3 } });
    expect(error.hint).toMatch(/name=value/);
  });

  test('an unterminated heredoc points from the instruction to the end of the file', () => {
    const error = parseError('FROM a\nRUN <<EOF\none\ntwo\n');
    expect(error.message).toContain('unterminated heredoc');
    expect(error.location.range).toEqual({ start: 2, end: 4 });
  });

  test('names that look like Object properties are unknown instructions, not crashes', () => {
    const result = parseDockerfile('constructor x\n__proto__ y\ntoString z\n');
    expect(result.instructions.map((i) => [i.name, i.args])).toEqual([
      ['CONSTRUCTOR', []],
      ['__PROTO__', []],
      ['TOSTRING', []],
    ]);
  });

  test('the text format prints one line per instruction with its line range', () => {
    const result = parseDockerfile(
      'FROM a\nRUN --mount=type=cache,target=/c x \\\n y\nCMD ["a"]\n',
    );
    expect(formatParseResultText(result)).toBe(
      '1 FROM a\n2-3 RUN [--mount=type=cache,target=/c] x  y\n4 CMD ["a"]',
    );
  });
});

describe('parseHeredocWord', () => {
  test.each(['<<EOF', "<<'EOF'", '<<"EOF"', '<<-EOF', "<<-'EOF'", '<<-"EOF"'])(
    '%s is a heredoc named EOF',
    (word) => {
      expect(parseHeredocWord(word)?.name).toBe('EOF');
    },
  );

  test.each(['', 'EOF', '<<', '<<-', '<EOF', '<<<EOF'])('%j is not a heredoc', (word) => {
    expect(parseHeredocWord(word)).toBeUndefined();
  });

  test.each(["<<'EOF", '<<"EOF', "<<EOF'", '<<EOF"'])('%s has an unterminated quote', (word) => {
    expect(() => parseHeredocWord(word)).toThrow(/unexpected end of statement/);
  });
});
