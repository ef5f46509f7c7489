/**
 * Go path semantics that Docker's file selection depends on: `filepath.Clean` and
 * `filepath.Match` (used by COPY wildcards and to validate .dockerignore patterns).
 * Paths are slash-separated, relative to a build context.
 */

/** Thrown for a pattern Go's filepath.Match would reject (ErrBadPattern). */
export class BadPatternError extends Error {
  readonly pattern: string;
  constructor(pattern: string, detail: string) {
    super(`syntax error in pattern ${JSON.stringify(pattern)}: ${detail}`);
    this.pattern = pattern;
  }
}

/** Go's filepath.Clean for `/`-separated paths: no `.`/empty segments, `..` resolved lexically. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(seg);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}

/** True if `p` has a filepath.Match metacharacter (`*`, `?`, `[`, or a `\` escape). */
export function hasGlobMeta(p: string): boolean {
  return /[*?[\\]/.test(p);
}

const JS_SYNTAX = new Set([
  '^',
  '$',
  '\\',
  '.',
  '*',
  '+',
  '?',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  '|',
  '/',
]);

/** A literal character as a fragment of a `u`-flag regular expression. */
export function escapeRegexChar(ch: string): string {
  return JS_SYNTAX.has(ch) ? '\\' + ch : ch;
}

function escapeClassChar(ch: string): string {
  return ch === '\\' || ch === ']' || ch === '[' || ch === '^' || ch === '-' ? '\\' + ch : ch;
}

/**
 * Parse a Go character class starting at `chars[start] === '['`. Returns the regex
 * fragment and the index after the closing `]`. Grammar (Go's matchChunk): `[` `^`?
 * one or more of `c` or `c-c`, where `c` is any character but `-` and `]`, or `\` + any.
 */
export function parseGlobClass(
  chars: string[],
  start: number,
  pattern: string,
): { source: string; end: number } {
  let i = start + 1;
  let negated = false;
  if (chars[i] === '^') {
    negated = true;
    i++;
  }
  const readChar = (): string => {
    let ch = chars[i];
    if (ch === undefined || ch === '-' || ch === ']')
      throw new BadPatternError(pattern, 'bad character class');
    if (ch === '\\') {
      i++;
      ch = chars[i];
      if (ch === undefined)
        throw new BadPatternError(pattern, 'trailing escape in character class');
    }
    i++;
    if (i >= chars.length) throw new BadPatternError(pattern, 'unterminated character class');
    return ch;
  };
  let body = '';
  let ranges = 0;
  for (;;) {
    if (chars[i] === ']' && ranges > 0) {
      i++;
      break;
    }
    const lo = readChar();
    let hi = lo;
    if (chars[i] === '-') {
      i++;
      hi = readChar();
    }
    ranges++;
    // Go accepts a reversed range (it just never matches); a JS regex would throw.
    if (lo.codePointAt(0)! > hi.codePointAt(0)!) continue;
    body += lo === hi ? escapeClassChar(lo) : `${escapeClassChar(lo)}-${escapeClassChar(hi)}`;
  }
  return { source: `[${negated ? '^' : ''}${body}]`, end: i };
}

const globCache = new Map<string, RegExp>();

/**
 * Compile a Go filepath.Match pattern to an anchored RegExp over a whole relative path:
 * `*` and `?` never cross `/`. Throws BadPatternError for malformed patterns.
 */
export function globToRegExp(pattern: string): RegExp {
  const cached = globCache.get(pattern);
  if (cached) return cached;
  const chars = Array.from(pattern);
  let source = '^';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') source += '[^/]*';
    else if (ch === '?') source += '[^/]';
    else if (ch === '\\') {
      const next = chars[++i];
      if (next === undefined) throw new BadPatternError(pattern, 'trailing escape');
      source += escapeRegexChar(next);
    } else if (ch === '[') {
      const cls = parseGlobClass(chars, i, pattern);
      source += cls.source;
      i = cls.end - 1;
    } else source += escapeRegexChar(ch);
  }
  const re = new RegExp(source + '$', 'u');
  globCache.set(pattern, re);
  return re;
}

/** Go's filepath.Match(pattern, name) (throws BadPatternError instead of returning it). */
export function matchGlob(pattern: string, name: string): boolean {
  return globToRegExp(pattern).test(name);
}
