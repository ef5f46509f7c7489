/**
 * Go `filepath.Match` semantics for one path component (`*`, `?`, `[a-z]`, `[^a]`, `\`
 * escapes), which is what COPY/ADD wildcards and --exclude use.
 */

export function hasWildcard(p: string): boolean {
  return /[*?[]/.test(p);
}

const cache = new Map<string, RegExp>();

/** Whether `name` (one component, no `/`) matches `pattern`. */
export function matchComponent(pattern: string, name: string): boolean {
  let re = cache.get(pattern);
  if (!re) {
    re = new RegExp('^' + componentToRegex(pattern) + '$', 's');
    cache.set(pattern, re);
  }
  return re.test(name);
}

function componentToRegex(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) out += escapeRe(pattern[++i]!);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) {
        out += '\\[';
        continue;
      }
      const body = pattern.slice(i + 1, end);
      // Go's filepath.Match negates with `[^…]` only; `!` is an ordinary character there.
      out += '[' + body.replace(/\\(.)/g, '\\$1').replace(/[\]]/g, '\\]') + ']';
      i = end;
    } else out += escapeRe(c);
  }
  return out;
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * Match a relative path against a pattern that may contain `**` (any number of
 * components), as --exclude and .dockerignore-style patterns do.
 */
export function matchPath(pattern: string, relPath: string): boolean {
  const pat = pattern.split('/').filter((p) => p !== '' && p !== '.');
  const parts = relPath.split('/').filter((p) => p !== '' && p !== '.');
  return matchParts(pat, 0, parts, 0);
}

function matchParts(pat: string[], i: number, parts: string[], j: number): boolean {
  if (i === pat.length) return j === parts.length;
  if (pat[i] === '**') {
    for (let k = j; k <= parts.length; k++) if (matchParts(pat, i + 1, parts, k)) return true;
    return false;
  }
  if (j === parts.length) return false;
  return matchComponent(pat[i]!, parts[j]!) && matchParts(pat, i + 1, parts, j + 1);
}
