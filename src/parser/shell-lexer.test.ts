import { describe, expect, it } from 'vitest';
import { ShellSyntaxError, VariableRequiredError } from './lexer-errors.ts';
import { envFromList, processWord, processWords } from './shell-lexer.ts';

const r = String.raw;

// BuildKit's envVarTest table (frontend/dockerfile/shell/envVarTest), Unix rows, with its env.
const envVarEnv = envFromList(['PWD=/home', 'SHELL=bash', 'KOREAN=한국어', 'NULL=']);
const envVarTable: Array<[string, string]> = [
  ['hello', 'hello'],
  [r`he'll'o`, 'hello'],
  [r`he'llo`, 'error'],
  [r`he\'llo`, `he'llo`],
  [r`he\\'llo`, 'error'],
  [r`abc\tdef`, 'abctdef'],
  [r`"abc\tdef"`, r`abc\tdef`],
  [r`"abc\\tdef"`, r`abc\tdef`],
  [r`'abc\tdef'`, r`abc\tdef`],
  [r`hello\ `.trimEnd(), 'hello'],
  [r`hello\\`, r`hello\ `.trimEnd()],
  [r`"hello`, 'error'],
  [r`"hello\"`, 'error'],
  [r`"hel'lo"`, `hel'lo`],
  [r`'hello`, 'error'],
  [r`'hello\'`, r`hello\ `.trimEnd()],
  [r`'hello\there'`, r`hello\there`],
  [r`'hello\\there'`, r`hello\\there`],
  [r`"''"`, `''`],
  ['$.', '$.'],
  ['$1', ''],
  ['he$1x', 'hex'],
  ['he$.x', 'he$.x'],
  ['he$pwd.', 'he.'],
  ['he$PWD', 'he/home'],
  [r`he\$PWD`, 'he$PWD'],
  [r`he\\$PWD`, r`he\/home`],
  [r`"he\$PWD"`, 'he$PWD'],
  [r`"he\\$PWD"`, r`he\/home`],
  ['\\${}', '${}'],
  ['\\${}aaa', '${}aaa'],
  ['he\\${}', 'he${}'],
  ['he\\${}xx', 'he${}xx'],
  ['${}', 'error'],
  ['${}aaa', 'error'],
  ['he${}', 'error'],
  ['he${}xx', 'error'],
  ['he${hi}', 'he'],
  ['he${hi}xx', 'hexx'],
  ['he${PWD}', 'he/home'],
  ['he${.}', 'error'],
  ['he${XXX:-000}xx', 'he000xx'],
  ['he${PWD:-000}xx', 'he/homexx'],
  ['he${XXX:-$PWD}xx', 'he/homexx'],
  ['he${XXX:-${PWD:-yyy}}xx', 'he/homexx'],
  ['he${XXX:-${YYY:-yyy}}xx', 'heyyyxx'],
  ['he${XXX:YYY}', 'error'],
  ['he${XXX:+${PWD}}xx', 'hexx'],
  ['he${PWD:+${XXX}}xx', 'hexx'],
  ['he${PWD:+${SHELL}}xx', 'hebashxx'],
  ['he${XXX:+000}xx', 'hexx'],
  ['he${PWD:+000}xx', 'he000xx'],
  [`'he\${XX}'`, 'he${XX}'],
  ['"he${PWD}"', 'he/home'],
  [`"he'$PWD'"`, `he'/home'`],
  ['"$PWD"', '/home'],
  [`'$PWD'`, '$PWD'],
  [r`'\$PWD'`, r`\$PWD`],
  [`'"hello"'`, '"hello"'],
  [r`'he\$PWD'`, r`he\$PWD`],
  ['he${PWD', 'error'],
  ['he${PWD:=000}xx', 'error'],
  ['he${PWD:+${PWD}:}xx', 'he/home:xx'],
  ['he${XXX:-\\$PWD:}xx', 'he$PWD:xx'],
  ['he${XXX:-\\${PWD}z}xx', 'he${PWDz}xx'],
  ['안녕하세요', '안녕하세요'],
  [`안'녕'하세요`, '안녕하세요'],
  [`안'녕하세요`, 'error'],
  [r`안녕\'하세요`, `안녕'하세요`],
  ['안녕${XXX:-${PWD:-yyy}}xx', '안녕/homexx'],
  ['$KOREAN', '한국어'],
  ['안녕$KOREAN', '안녕한국어'],
  ['${{aaa}', 'error'],
  ['${aaa}}', '}'],
  ['${aaa', 'error'],
  ['${{aaa:-bbb}', 'error'],
  ['${aaa:-bbb}}', 'bbb}'],
  ['${aaa:-bbb', 'error'],
  ['${aaa:-bbb}', 'bbb'],
  ['${aaa:-${bbb:-ccc}}', 'ccc'],
  ['${aaa:-bbb ${foo}', 'error'],
  ['${aaa:-bbb {foo}', 'bbb {foo'],
  ['${:}', 'error'],
  ['${:-bbb}', 'error'],
  ['${:+bbb}', 'error'],
  // Additions beyond the file: `$` at the end, null vs unset, special parameters.
  ['end$', 'end$'],
  ['${NULL-dflt}', ''],
  ['${NULL:-dflt}', 'dflt'],
  ['${NULL+alt}', 'alt'],
  ['${NULL:+alt}', ''],
  ['${NULL?}', ''],
  ['$$', ''],
  ['a$@b', 'ab'],
];

describe('processWord matches BuildKit envVarTest', () => {
  it.each(envVarTable)('expands %s to %s', (input, expected) => {
    if (expected === 'error') {
      expect(() => processWord(input, envVarEnv)).toThrow(ShellSyntaxError);
    } else {
      expect(processWord(input, envVarEnv).result).toBe(expected);
    }
  });
});

// Cases from BuildKit's TestProcessWithMatches: modifiers, patterns and used/unset sets.
const matchCases: Array<{
  input: string;
  env: Record<string, string>;
  expected: string;
  used?: string[];
  unset?: string[];
}> = [
  { input: 'x ${UNUSED}', env: {}, expected: 'x ', unset: ['UNUSED'] },
  {
    input: '${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}',
    env: { FOO: 'xxx', BAR: '' },
    expected: 'xxx  ccc',
    used: ['FOO', 'BAR'],
    unset: ['BAZ'],
  },
  {
    input: '${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}',
    env: { FOO: 'xxx', BAR: '' },
    expected: 'xxx bbb ccc',
    used: ['FOO', 'BAR'],
    unset: ['BAZ'],
  },
  {
    input: '${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}',
    env: { FOO: 'xxx', BAR: '' },
    expected: 'aaa bbb ',
    used: ['FOO', 'BAR'],
    unset: ['BAZ'],
  },
  {
    input: '${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}',
    env: { FOO: 'xxx', BAR: '' },
    expected: 'aaa  ',
    used: ['FOO', 'BAR'],
    unset: ['BAZ'],
  },
  { input: '${FOO?aaa}', env: { FOO: 'xxx' }, expected: 'xxx', used: ['FOO'] },
  { input: '${BAR?bbb}', env: { BAR: '' }, expected: '', used: ['BAR'] },
  { input: '${FOO:?aaa}', env: { FOO: 'xxx' }, expected: 'xxx', used: ['FOO'] },
  {
    input: '${FOO#()[]{\\}^$.\\*\\?|\\\\}',
    env: { FOO: r`()[]{}^$.*?|\x` },
    expected: 'x',
    used: ['FOO'],
  },
  { input: '${FOO%%\\**}', env: { FOO: 'xx**' }, expected: 'xx' },
  { input: '${FOO#*x*y}', env: { FOO: 'xxyy' }, expected: 'y' },
  { input: '${FOO#*}', env: { FOO: 'xxyy' }, expected: 'xxyy' },
  { input: '${FOO#$BAR}', env: { FOO: 'xxyy', BAR: 'x' }, expected: 'xyy', used: ['FOO', 'BAR'] },
  { input: '${FOO#}', env: { FOO: 'xxyy' }, expected: 'xxyy' },
  { input: '${FOO##*x}', env: { FOO: 'xxyy' }, expected: 'yy' },
  { input: '${FOO##}', env: { FOO: 'xxyy' }, expected: 'xxyy' },
  { input: '${FOO#?\\?}', env: { FOO: '???y' }, expected: '?y' },
  {
    input: '${ABC:-.}${FOO%x}${ABC:-.}',
    env: { FOO: 'xxyy' },
    expected: '.xxyy.',
    used: ['FOO'],
    unset: ['ABC'],
  },
  { input: '${FOO%%\\**\\*}', env: { FOO: 'a***yy*' }, expected: 'a' },
  { input: '${FOO%y*}', env: { FOO: 'xxyy' }, expected: 'xxy' },
  { input: '${FOO%%y*}', env: { FOO: 'xxyy' }, expected: 'xx' },
  { input: '${FOO%.?}', env: { FOO: 'file.tar.gz' }, expected: 'file.tar.gz' },
  { input: '${FOO%.*}', env: { FOO: 'file.tar.gz' }, expected: 'file.tar' },
  { input: '${FOO%%.*}', env: { FOO: 'file.tar.gz' }, expected: 'file' },
  { input: '${FOO#[a]}', env: { FOO: '[a]b' }, expected: 'b' },
  {
    input: '${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}',
    env: { FOO: '/foo*/*/*.txt', NEEDLE: r`\*/` },
    expected: '/foo.*/*.txt - /foo..*.txt',
  },
  {
    input: '${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}',
    env: { FOO: '/tmp/tmp/bar.txt', NEEDLE: '/tmp' },
    expected: '/tmp/bar.txt - /bar.txt',
  },
  {
    input: '${FOO/$NEEDLE/$R} - ${FOO//$NEEDLE/$R}',
    env: { FOO: '/a/foo/b/c.txt', NEEDLE: '/?/', R: '/' },
    expected: '/foo/b/c.txt - /foo/c.txt',
  },
  {
    input: '${FOO/$NEEDLE/$R}',
    env: { FOO: 'http://google.de', NEEDLE: 'http://', R: 'https://' },
    expected: 'https://google.de',
  },
  { input: '${FOO//\\//\\/}', env: { FOO: '/tmp/foo.txt' }, expected: r`\/tmp\/foo.txt` },
  { input: '${FOO/$BAR/ww}', env: { FOO: 'xxyy', BAR: '' }, expected: 'wwxxyy' },
  { input: '${FOO///}', env: { FOO: 'xxyy' }, expected: 'xxyy' },
  { input: '${FOO///}', env: {}, expected: '', unset: ['FOO'] },
  // The replacement keeps its escapes and goes through Go's template expansion ($0 = match).
  { input: '${FOO//x*/[\\$0]}', env: { FOO: 'axxb' }, expected: 'a[\\xxb]' },
  { input: '${FOO//x/$0}', env: { FOO: 'axxb' }, expected: 'ab' },
  {
    input:
      'something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz',
    env: { VERSION: 'v1.2.3', TARGETOS: 'linux', TARGETARCH: 'arm', TARGETVARIANT: 'v7' },
    expected: 'something-v1.2.3.linux-arm-v7.tar.gz',
  },
];

describe('processWord modifiers and patterns (BuildKit TestProcessWithMatches)', () => {
  it.each(matchCases)('expands $input', ({ input, env, expected, used, unset }) => {
    const out = processWord(input, (name) => env[name]);
    expect(out.result).toBe(expected);
    if (used) expect([...out.used].sort()).toEqual([...used].sort());
    if (unset) expect([...out.unset].sort()).toEqual([...unset].sort());
  });

  it.each(['${BAZ?ccc}', '${BAR:?bbb}', '${BAZ:?ccc}', '${BAZ:?}'])(
    'rejects %s with a typed required-variable error',
    (input) => {
      expect(() => processWord(input, (name) => ({ FOO: 'xxx', BAR: '' })[name])).toThrow(
        VariableRequiredError,
      );
    },
  );

  it.each(['${FOO=aaa}', '${FOO=:aaa}', '${FOO=}', '${FOO//ww}', '${FOO//}', '${FOO#\\x}'])(
    'rejects %s as a syntax error',
    (input) => {
      expect(() => processWord(input, (name) => ({ FOO: 'xxyy' })[name])).toThrow(ShellSyntaxError);
    },
  );

  it('puts the custom message of ${VAR:?msg} in the error, expanded', () => {
    const env = envFromList(['VAR=', 'ARG=x']);
    expect(() => processWord('${VAR:?message here$ARG}', env)).toThrow('message herex');
    expect(processWord('${VAR?message here$ARG}', env).result).toBe('');
  });

  it('names the unterminated ${ in its error message', () => {
    expect(() => processWord('he${PWD:-x', envVarEnv)).toThrow("missing '}'");
  });
});

describe('escape token', () => {
  it('uses the backtick when the escape directive asks for it', () => {
    const opts = { escapeToken: '`' };
    expect(processWord('he`$PWD', envVarEnv, opts).result).toBe('he$PWD');
    expect(processWord(r`C:\path\$PWD`, envVarEnv, opts).result).toBe(r`C:\path\/home`);
    expect(processWord('"a`"b"', envVarEnv, opts).result).toBe('a"b');
    expect(processWord('"a`xb"', envVarEnv, opts).result).toBe('a`xb');
  });

  it('keeps unset references as written with skipUnsetEnv', () => {
    const opts = { skipUnsetEnv: true };
    expect(processWord('$PWD $NOPE ${NOPE} ${NOPE:-x}', envVarEnv, opts).result).toBe(
      '/home $NOPE ${NOPE} ${NOPE:-x}',
    );
  });

  it('keeps quotes, which still decide what expands, with keepQuotes (BuildKit RawQuotes)', () => {
    const opts = { keepQuotes: true, skipUnsetEnv: true };
    expect(processWord(`'$PWD' "$PWD" "a\\"b" \\$PWD $NOPE`, envVarEnv, opts).result).toBe(
      `'$PWD' "/home" "a"b" $PWD $NOPE`,
    );
  });
});

// BuildKit's wordsTest table: ProcessWords splitting after expansion.
const wordsEnv = envFromList(['hi=hi', 'space=abc  def', 'leading=  ab c', 'trailing=ab c   ']);
const wordsTable: Array<[string, string[] | 'error']> = [
  ['hello', ['hello']],
  ['hello${hi}bye', ['hellohibye']],
  ['hello${space}bye', ['helloabc', 'defbye']],
  ['hello"${space}"bye', ['helloabc  defbye']],
  ['hello "${space}"bye', ['hello', 'abc  defbye']],
  ['hello${leading}def', ['hello', 'ab', 'cdef']],
  ['hello"${leading}" def', ['hello  ab c', 'def']],
  ['hello"${leading}"', ['hello  ab c']],
  ['hello${leading}', ['hello', 'ab', 'c']],
  ['hello${trailing}', ['helloab', 'c']],
  ['hello${trailing}d', ['helloab', 'c', 'd']],
  ['hello"${trailing}"d', ['helloab c   d']],
  ['hel"lo${trailing}"', ['helloab c   ']],
  ['hello" there  "', ['hello there  ']],
  ['hello there     ', ['hello', 'there']],
  [r`hello\ there`, ['hello there']],
  ['hello" there', 'error'],
  [r`hello\" there`, ['hello"', 'there']],
  [r`hello"\\there"`, [r`hello\there`]],
  [r`hello"\there"`, [r`hello\there`]],
  [r`hello'\\there'`, [r`hello\\there`]],
  [r`hello'\there'`, [r`hello\there`]],
  [`hello'$there'`, ['hello$there']],
  ['  a   b  ', ['a', 'b']],
  ['""', []],
];

describe('processWords matches BuildKit wordsTest', () => {
  it.each(wordsTable)('splits %s', (input, expected) => {
    if (expected === 'error') {
      expect(() => processWords(input, wordsEnv)).toThrow(ShellSyntaxError);
    } else {
      expect(processWords(input, wordsEnv).words).toEqual(expected);
    }
  });
});

describe('envFromList', () => {
  it('lets the last assignment win and treats a bare name as empty', () => {
    const env = envFromList(['foo=bar', 'car=hat', 'car=bike', 'bare']);
    expect(env('car')).toBe('bike');
    expect(env('bare')).toBe('');
    expect(env('none')).toBeUndefined();
  });
});

describe('heredoc bodies', () => {
  const env = envFromList(['FOO=bar']);
  it.each([
    ['echo "hello ${FOO}"', 'echo "hello bar"'],
    ["echo 'hello $FOO'", "echo 'hello bar'"],
    ['echo "\\$FOO"', 'echo "\\$FOO"'],
    ['a\\\\b $FOO', 'a\\\\b bar'],
    ['#!/bin/sh\nprintf "%s\\n" "$FOO"\n', '#!/bin/sh\nprintf "%s\\n" "bar"\n'],
  ])('expands %j to %j, keeping quotes and escapes', (body, expected) => {
    expect(processWord(body, env, { heredoc: true }).result).toBe(expected);
  });
});
