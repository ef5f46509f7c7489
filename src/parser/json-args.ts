/**
 * The exec (JSON) form, decoded the way BuildKit's Go decoder does: only the first
 * JSON value counts (text after the closing `]` is ignored), and a syntax error means
 * "not JSON" (the instruction falls back to the shell form).
 */

/** The array's strings, `'not-json'` (fall back to shell form) or `'not-strings'` (an error). */
export function decodeJsonStringArray(text: string): string[] | 'not-json' | 'not-strings' {
  if (!text.startsWith('[')) return 'not-json';
  const end = findArrayEnd(text);
  if (end < 0) return 'not-json';
  let value: unknown;
  try {
    value = JSON.parse(text.slice(0, end + 1));
  } catch (error) {
    // A syntax error is an answer, not a failure: BuildKit treats the text as shell form.
    if (error instanceof SyntaxError) return 'not-json';
    throw error;
  }
  if (!Array.isArray(value)) return 'not-json';
  return value.every((item): item is string => typeof item === 'string') ? value : 'not-strings';
}

/** Index of the `]` that closes the array opened at 0, or -1; strings may hold brackets. */
function findArrayEnd(text: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') {
      inString = true;
    } else if (ch === '[' || ch === '{') {
      depth++;
    } else if (ch === ']' || ch === '}') {
      depth--;
      if (depth === 0) return ch === ']' ? i : -1;
    }
  }
  return -1;
}
