/**
 * Whitespace as BuildKit's Go parser sees it. Go's `unicode.IsSpace` differs from
 * JavaScript's `\s` (it has U+0085, lacks U+FEFF), and several splits use only the
 * ASCII set `[\t\v\f\r ]`; matching both keeps our parse identical to BuildKit's.
 */

const UNICODE_SPACES = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

/** Go's `unicode.IsSpace` for one character. */
export function isSpace(ch: string): boolean {
  const code = ch.codePointAt(0);
  if (code === undefined) return false;
  return UNICODE_SPACES.has(code) || (code >= 0x2000 && code <= 0x200a);
}

/** Go's `strings.TrimLeftFunc(s, unicode.IsSpace)`. */
export function trimLeftSpace(text: string): string {
  let i = 0;
  while (i < text.length && isSpace(text[i]!)) i++;
  return text.slice(i);
}

/** Go's `strings.TrimSpace`. */
export function trimSpace(text: string): string {
  let end = text.length;
  while (end > 0 && isSpace(text[end - 1]!)) end--;
  return trimLeftSpace(text.slice(0, end));
}

/** Removes every trailing `\r` and `\n`, as BuildKit does before looking at a line. */
export function trimNewline(line: string): string {
  let end = line.length;
  while (end > 0 && (line[end - 1] === '\n' || line[end - 1] === '\r')) end--;
  return line.slice(0, end);
}

/** The separator BuildKit uses between whitespace-delimited arguments. */
const ASCII_WHITESPACE = /[\t\v\f\r ]+/;

/** Splits on runs of `[\t\v\f\r ]`, at most `limit` parts (Go's `regexp.Split(s, n)`). */
export function splitWhitespace(text: string, limit = -1): string[] {
  if (limit < 0) return text.split(ASCII_WHITESPACE);
  const parts: string[] = [];
  let rest = text;
  while (parts.length < limit - 1) {
    const match = ASCII_WHITESPACE.exec(rest);
    if (!match) break;
    parts.push(rest.slice(0, match.index));
    rest = rest.slice(match.index + match[0].length);
  }
  parts.push(rest);
  return parts;
}
