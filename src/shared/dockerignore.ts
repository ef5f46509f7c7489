/**
 * .dockerignore with Docker's exact semantics: parsing as moby/patternmatcher's
 * `ignorefile.ReadAll`, matching as `PatternMatcher.MatchesOrParentMatches`, and walk
 * pruning as BuildKit's fsutil walker. Lives in shared/ because both the parser (which
 * reads the file) and the engine (which walks the context) need it.
 *
 * Why not @balena/dockerignore as the engine: it ignores case by default, passes
 * `+ ( ) | { }` into its regex unescaped (`(` throws, `a+b` matches `aab`), uses the
 * pre-20.10 parent-directory rule, lacks the `**x` suffix rule, accepts a lone `!`, and
 * exposes no per-rule state for an incremental walk. Its test suite still serves as a
 * cross-check on ordinary patterns (see src/parser/dockerignore.test.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TbuildError } from './errors.ts';
import {
  BadPatternError,
  cleanPath,
  escapeRegexChar,
  globToRegExp,
  parseGlobClass,
} from './path-match.ts';

/** A .dockerignore pattern Docker refuses (a lone `!`, a malformed `[` class). */
export class InvalidIgnorePatternError extends TbuildError {
  readonly pattern: string;
  constructor(pattern: string, detail: string) {
    super(
      'TBUILD_DOCKERIGNORE_PATTERN',
      `invalid .dockerignore pattern ${JSON.stringify(pattern)}: ${detail}`,
      {
        hint: 'Fix or remove this line in .dockerignore (escape literal [ ] * ? with a backslash).',
      },
    );
    this.pattern = pattern;
  }
}

// Go's unicode.IsSpace: JS \s without U+FEFF, plus U+0085.
const EDGE_SPACE = /^(?:[^\S\uFEFF]|\u0085)+|(?:[^\S\uFEFF]|\u0085)+$/gu;

/** Go's strings.TrimSpace. */
function trimSpace(s: string): string {
  return s.replace(EDGE_SPACE, '');
}

/**
 * A build's ignore files, first the one that wins: `<Dockerfile>.dockerignore` beside the
 * Dockerfile, then the context's `.dockerignore` (BuildKit's rule). The builder, watch
 * mode and the up-to-date check all read the first that exists.
 */
export function ignoreFilesOf(dockerfilePath: string, contextDir: string): [string, string] {
  return [`${dockerfilePath}.dockerignore`, join(contextDir, '.dockerignore')];
}

/** The text of the first of `files` that exists ('' when none does). */
export function readFirstIgnoreFile(files: readonly string[]): string {
  for (const file of files) {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return '';
}

/**
 * Parse .dockerignore text into cleaned patterns, in order: comments (`#` in column one)
 * and blank lines dropped, each pattern `filepath.Clean`ed with a leading `/` removed,
 * `!` exceptions kept as `!pattern`.
 */
export function parseDockerignore(text: string): string[] {
  const patterns: string[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (n === 0 && line.startsWith('\uFEFF')) line = line.slice(1);
    // Only a # in the very first column starts a comment; "  #x" is the pattern "#x".
    if (line.startsWith('#')) continue;
    let pattern = trimSpace(line);
    if (pattern === '') continue;
    const invert = pattern.startsWith('!');
    if (invert) pattern = trimSpace(pattern.slice(1));
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    patterns.push(invert ? '!' + pattern : pattern);
  }
  return patterns;
}

type MatchKind = 'exact' | 'prefix' | 'suffix' | 'regexp';

interface CompiledPattern {
  /** The pattern without its `!`. */
  text: string;
  exclusion: boolean;
  kind: MatchKind;
  regexp?: RegExp;
}

/** Compile like patternmatcher's Pattern.compile, including its exact/prefix/suffix shortcuts. */
function compilePattern(text: string, exclusion: boolean): CompiledPattern {
  const chars = Array.from(text);
  let source = '^';
  let kind: MatchKind = 'exact';
  for (let i = 0, step = 0; i < chars.length; i++, step++) {
    const ch = chars[i]!;
    if (ch === '*' && chars[i + 1] === '*') {
      i++;
      if (chars[i + 1] === '/') i++;
      if (i + 1 >= chars.length) {
        if (kind === 'exact') kind = 'prefix';
        else {
          source += '.*';
          kind = 'regexp';
        }
      } else {
        source += '(.*/)?';
        kind = 'regexp';
      }
      if (step === 0) kind = 'suffix';
    } else if (ch === '*') {
      source += '[^/]*';
      kind = 'regexp';
    } else if (ch === '?') {
      source += '[^/]';
      kind = 'regexp';
    } else if ('.+()|{}$'.includes(ch)) {
      source += '\\' + ch;
    } else if (ch === '\\') {
      const next = chars[i + 1];
      if (next === undefined) source += '\\\\';
      else {
        source += escapeRegexChar(next);
        kind = 'regexp';
        i++;
      }
    } else if (ch === '[') {
      const cls = parseGlobClass(chars, i, text);
      source += cls.source;
      i = cls.end - 1;
      kind = 'regexp';
    } else if (ch === ']') {
      source += '\\]';
      kind = 'regexp';
    } else {
      // `^` stays an anchor, as it does in Go's regexp (so `a^b` only matches exactly).
      source += ch === '^' ? '^' : escapeRegexChar(ch);
    }
  }
  const compiled: CompiledPattern = { text, exclusion, kind };
  if (kind === 'regexp') compiled.regexp = new RegExp(source + '$', 'u');
  return compiled;
}

function matchOne(p: CompiledPattern, path: string): boolean {
  switch (p.kind) {
    case 'exact':
      return path === p.text;
    case 'prefix':
      return path.startsWith(p.text.slice(0, -2));
    case 'suffix': {
      const suffix = p.text.slice(2);
      return path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1));
    }
    case 'regexp':
      return p.regexp!.test(path);
  }
}

/** Per-pattern "this path or one of its parents matched", carried down a walk. */
export type IgnoreState = readonly boolean[];

export interface IgnoreMatcher {
  /** True if `relPath` (slash-separated, relative to the context) is excluded. */
  ignores(relPath: string): boolean;
  /**
   * For an excluded directory: false means nothing below it can be re-included, so a walk
   * may skip it. Mirrors BuildKit's walker: only an exception whose text starts with
   * `dir/` keeps the walk going (so `!**\/keep` does not reach into an excluded dir).
   */
  mayContainIncluded(dirRelPath: string): boolean;
  /** Incremental form of ignores() for walks: pass the parent's state (undefined at the root). */
  matchWithParent(
    relPath: string,
    parent: IgnoreState | undefined,
  ): { excluded: boolean; state: IgnoreState };
  /** True when there are no patterns at all (nothing is ever excluded). */
  readonly empty: boolean;
}

function compileAll(patterns: readonly string[]): CompiledPattern[] {
  const compiled: CompiledPattern[] = [];
  for (const raw of patterns) {
    let p = trimSpace(raw);
    if (p === '') continue;
    p = cleanPath(p);
    let exclusion = false;
    if (p.startsWith('!')) {
      if (p.length === 1) throw new InvalidIgnorePatternError(raw, 'illegal exclusion pattern "!"');
      exclusion = true;
      p = p.slice(1);
    }
    try {
      globToRegExp(p);
      compiled.push(compilePattern(p, exclusion));
    } catch (err) {
      if (err instanceof BadPatternError || err instanceof SyntaxError) {
        throw new InvalidIgnorePatternError(raw, err.message);
      }
      throw err;
    }
  }
  return compiled;
}

/** Build a matcher from patterns as parseDockerignore returns them (later patterns win). */
export function createIgnoreMatcher(patterns: readonly string[]): IgnoreMatcher {
  const compiled = compileAll(patterns);
  const hasExclusions = compiled.some((p) => p.exclusion);

  const fold = (matches: readonly boolean[]): boolean => {
    let matched = false;
    for (let i = 0; i < compiled.length; i++) {
      if (compiled[i]!.exclusion !== matched) continue;
      if (matches[i]) matched = !compiled[i]!.exclusion;
    }
    return matched;
  };

  const matchWithParent = (relPath: string, parent: IgnoreState | undefined) => {
    const state = compiled.map((p, i) => parent?.[i] === true || matchOne(p, relPath));
    return { excluded: fold(state), state };
  };

  return {
    empty: compiled.length === 0,
    ignores(relPath: string): boolean {
      const path = cleanPath(relPath);
      if (path === '.' || compiled.length === 0) return false;
      const parts = path.split('/');
      let state: IgnoreState | undefined;
      for (let i = 1; i < parts.length; i++)
        state = matchWithParent(parts.slice(0, i).join('/'), state).state;
      return matchWithParent(path, state).excluded;
    },
    mayContainIncluded(dirRelPath: string): boolean {
      if (!hasExclusions) return false;
      const dirSlash = cleanPath(dirRelPath) + '/';
      return compiled.some((p) => p.exclusion && (p.text + '/').startsWith(dirSlash));
    },
    matchWithParent,
  };
}
