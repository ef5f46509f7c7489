import ignore from '@balena/dockerignore';
import { describe, expect, it } from 'vitest';
import {
  createIgnoreMatcher,
  InvalidIgnorePatternError,
  parseDockerignore,
} from './dockerignore.ts';

/** [.dockerignore text, path, excluded?] — expectations follow Docker's documented behaviour. */
const cases: Array<[string, string, boolean]> = [
  ['*.go', 'main.go', true],
  ['*.go', 'cmd/main.go', false],
  ['**/*.go', 'cmd/main.go', true],
  ['**/*.go', 'main.go', true],
  ['dir', 'dir', true],
  ['dir', 'dir/a/b.txt', true],
  ['dir', 'other/dir/b.txt', false],
  ['dir/', 'dir/a.txt', true],
  ['/dir', 'dir/a.txt', true],
  ['# a comment\n', '# a comment', false],
  [' # not a comment', '# not a comment', true],
  ['*.md\n!README.md', 'README.md', false],
  ['*.md\n!README.md', 'CHANGES.md', true],
  ['!README.md\n*.md', 'README.md', true],
  ['docs\n!docs/keep.txt', 'docs/keep.txt', false],
  ['docs\n!docs/keep.txt', 'docs/other.txt', true],
  ['docs\n!docs/sub', 'docs/sub/deep/x', false],
  ['.dockerignore\nDockerfile', '.dockerignore', true],
  ['.dockerignore\nDockerfile', 'Dockerfile', true],
  ['**\n!src', 'src/index.ts', false],
  ['**\n!src', 'package.json', true],
  ['a/**/b', 'a/b', true],
  ['a/**/b', 'a/x/y/b', true],
  ['a/**/b', 'a/x/y/b/c.txt', true],
  ['file?.txt', 'file1.txt', true],
  ['file?.txt', 'file10.txt', false],
  ['[a-c].txt', 'b.txt', true],
  ['[a-c].txt', 'd.txt', false],
  ['[^a].txt', 'a.txt', false],
  ['\\*.txt', '*.txt', true],
  ['\\*.txt', 'a.txt', false],
  ['a+b', 'a+b', true],
  ['a+b', 'aab', false],
  ['(x)*', '(x)y', true],
  ['*.MD', 'a.md', false],
  ['**foo', 'barfoo', true],
  ['foo/**', 'foo/x', true],
  ['foo/**', 'foo', false],
  ['./a/../b', 'b/c', true],
  ['*/temp*', 'x/temporary', true],
  ['*/temp*', 'temp', false],
  ['*/temp*', 'x/y/temp', false],
  ['node_modules', 'src/node_modules/z.js', false],
  ['**/node_modules', 'src/node_modules/z.js', true],
  ['build\r\n!build/keep\r\n', 'build/keep', false],
  ['\uFEFFsecret', 'secret', true],
  ['  spaced  ', 'spaced', true],
  ['*\n!*.go', 'main.go', false],
  ['*\n!*.go', 'src/x.go', true],
  ['!  keep\n', 'keep', false],
];

describe('createIgnoreMatcher follows Docker', () => {
  it.each(cases)('with %j, %s excluded = %s', (text, path, excluded) => {
    expect(createIgnoreMatcher(parseDockerignore(text)).ignores(path)).toBe(excluded);
  });

  it('never excludes the context root itself', () => {
    expect(createIgnoreMatcher(['**']).ignores('.')).toBe(false);
  });

  it('agrees with @balena/dockerignore (case-sensitive) on ordinary patterns', () => {
    const patterns = [
      '*.log',
      'build',
      '!build/keep',
      '**/tmp',
      'docs/*.md',
      '!docs/README.md',
      'a?c',
    ];
    const paths = [
      'x.log',
      'src/x.log',
      'build/a',
      'build/keep',
      'a/tmp/z',
      'docs/a.md',
      'docs/README.md',
      'abc',
      'a/abc',
    ];
    // The package is CommonJS: its factory is also exported as `.default`.
    const balena = ignore.default({ ignorecase: false }).add(patterns);
    const ours = createIgnoreMatcher(patterns);
    for (const path of paths) expect(ours.ignores(path), path).toBe(balena.ignores(path));
  });
});

describe('parseDockerignore', () => {
  it('drops comments and blank lines, cleans paths and keeps exceptions in order', () => {
    const text = '# comment\n\n/abs/path/\n!./keep//me\nsub/../other\n  \n*.tmp\n';
    expect(parseDockerignore(text)).toEqual(['abs/path', '!keep/me', 'other', '*.tmp']);
  });

  it('keeps a lone "/" and a lone "!" so that the matcher can reject the latter', () => {
    expect(parseDockerignore('/\n!\n')).toEqual(['/', '!']);
    expect(() => createIgnoreMatcher(['!'])).toThrow(InvalidIgnorePatternError);
  });

  it('rejects a malformed character class with a typed error', () => {
    expect(() => createIgnoreMatcher(['[abc'])).toThrow(InvalidIgnorePatternError);
  });
});

describe('mayContainIncluded', () => {
  it('lets a walk skip an excluded directory when no exception starts inside it', () => {
    const m = createIgnoreMatcher(parseDockerignore('docs\ncache\n!docs/keep.txt'));
    expect(m.mayContainIncluded('docs')).toBe(true);
    expect(m.mayContainIncluded('cache')).toBe(false);
  });

  it('does not reach into an excluded directory for a wildcard exception, as BuildKit', () => {
    const m = createIgnoreMatcher(parseDockerignore('vendor\n!**/keep'));
    expect(m.mayContainIncluded('vendor')).toBe(false);
  });

  it('is false when there are no exceptions at all', () => {
    expect(createIgnoreMatcher(['dir']).mayContainIncluded('dir')).toBe(false);
  });
});
