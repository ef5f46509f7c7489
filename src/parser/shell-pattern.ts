/**
 * Shell patterns inside `${A#p}`, `${A%p}` and `${A/p/r}`, with BuildKit's exact rules:
 * `*` (shortest or longest run), `?` (one character) and `\` escapes of `*`, `?`, `\`.
 * Bracket expressions are NOT patterns in BuildKit: `[` and `]` match themselves.
 */

/** Thrown for a malformed pattern; the lexer turns it into a ShellSyntaxError. */
export class ShellPatternError extends Error {}

const REGEX_SPECIAL = new Set(['[', ']', '{', '}', '.', '+', '(', ')', '|', '^', '$']);

/**
 * Convert a shell pattern to a RegExp. `greedy` picks `.*` over `.*?` for `*`; `anchored`
 * pins the match to the start of the string.
 */
export function shellPatternToRegex(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? '^' : '';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') {
      out += greedy ? '.*' : '.*?';
    } else if (ch === '?') {
      out += '.';
    } else if (ch === '\\') {
      const next = chars[i + 1];
      // `\}` and `\/` only kept the brace/slash from ending the ${...}; the escape is not
      // part of the pattern.
      if (next === '}' || next === '/') continue;
      if (next !== '*' && next !== '?' && next !== '\\') {
        throw new ShellPatternError(`invalid escape '\\${next ?? ''}'`);
      }
      out += '\\' + next;
      i++;
    } else if (REGEX_SPECIAL.has(ch)) {
      out += '\\' + ch;
    } else {
      out += ch;
    }
  }
  return new RegExp(out, 'u');
}

/** Reverse a pattern by characters, keeping each `\x` escape pair in order (a\*c → c\*a). */
export function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const tokens: string[] = [];
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] === '\\' && i < chars.length - 1) {
      tokens.push('\\' + chars[i + 1]!);
      i++;
    } else {
      tokens.push(chars[i]!);
    }
  }
  return tokens.reverse().join('');
}

function reverseString(value: string): string {
  return Array.from(value).reverse().join('');
}

/** `${A#p}` (greedy=false) and `${A##p}` (greedy=true). */
export function trimShellPrefix(value: string, pattern: string, greedy: boolean): string {
  const match = shellPatternToRegex(pattern, greedy, true).exec(value);
  return match === null ? value : value.slice(match.index + match[0].length);
}

/**
 * `${A%p}` and `${A%%p}`. A regex cannot find the shortest rightmost match directly, so
 * (as BuildKit does) both the value and the pattern are reversed and the prefix trimmed.
 */
export function trimShellSuffix(value: string, pattern: string, greedy: boolean): string {
  return reverseString(trimShellPrefix(reverseString(value), reversePattern(pattern), greedy));
}

/** `${A/p/r}` (first match) and `${A//p/r}` (every match, Go `ReplaceAllString` rules). */
export function replaceShellPattern(
  value: string,
  pattern: string,
  replacement: string,
  all: boolean,
  maxLength = Infinity,
): string {
  const re = shellPatternToRegex(pattern, true, false);
  if (!all) {
    const match = re.exec(value);
    if (match === null) return value;
    return value.slice(0, match.index) + replacement + value.slice(match.index + match[0].length);
  }
  return replaceAllGo(value, new RegExp(re.source, 'gu'), replacement, maxLength);
}

/** `${A//p/r}` whose result would pass the word limit (stopped before it is built). */
export class ShellPatternTooLong extends Error {}

/**
 * Go's ReplaceAllString: non-overlapping matches, an empty match right after a previous
 * match is skipped (JS would keep it), and `$0` / `${0}` / `$$` expand in the replacement.
 */
function replaceAllGo(value: string, re: RegExp, template: string, maxLength: number): string {
  let out = '';
  let copied = 0;
  let lastMatchEnd = -1;
  let searchAt = 0;
  while (searchAt <= value.length) {
    re.lastIndex = searchAt;
    const match = re.exec(value);
    if (match === null) break;
    const start = match.index;
    const end = start + match[0].length;
    if (end === start && start === lastMatchEnd) {
      searchAt = start + codePointWidth(value, start);
      continue;
    }
    out += value.slice(copied, start) + expandGoTemplate(template, match[0]);
    if (out.length > maxLength) throw new ShellPatternTooLong();
    copied = end;
    lastMatchEnd = end;
    searchAt = end > start ? end : start + codePointWidth(value, start);
  }
  return out + value.slice(copied);
}

function codePointWidth(value: string, index: number): number {
  const cp = value.codePointAt(index);
  return cp !== undefined && cp > 0xffff ? 2 : 1;
}

const NAME_CHAR = /[\p{L}\p{Nd}_]/u;

/** Go regexp template expansion; patterns here have no groups, so only `$0` is non-empty. */
function expandGoTemplate(template: string, whole: string): string {
  let out = '';
  const chars = Array.from(template);
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] !== '$') {
      out += chars[i];
      continue;
    }
    if (chars[i + 1] === '$') {
      out += '$';
      i++;
      continue;
    }
    const braced = chars[i + 1] === '{';
    let j = braced ? i + 2 : i + 1;
    let name = '';
    while (j < chars.length && NAME_CHAR.test(chars[j]!)) name += chars[j++];
    if (name === '' || (braced && chars[j] !== '}')) {
      out += '$';
      continue;
    }
    if (name === '0') out += whole;
    i = braced ? j : j - 1;
  }
  return out;
}
