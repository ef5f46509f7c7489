/**
 * buildx's attribute lists (`type=image,"name=a,b",push=true`): one CSV record, as Go's
 * encoding/csv reads it, then `key=value` per field. Used by --output, --cache-from/-to
 * and the Action's inputs, which all take this syntax.
 */
import { UsageError } from '../../shared/errors.ts';

/** The fields of one CSV record: commas split, double quotes protect, `""` is a quote. */
export function splitCsvRecord(text: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quote');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i++];
      }
      if (i < text.length && text[i] !== ',') throw new Error('text after a closing quote');
    } else {
      const end = text.indexOf(',', i);
      field = text.slice(i, end < 0 ? text.length : end);
      i = end < 0 ? text.length : end;
    }
    fields.push(field);
    if (i >= text.length) return fields;
    i++; // the comma
  }
}

/** `k=v,k2="v,2"` → `{ k: 'v', k2: 'v,2' }`; `flag` names the option in errors. */
export function parseAttributes(
  spec: string,
  flag: string,
  example: string,
): Record<string, string> {
  let fields: string[];
  try {
    fields = splitCsvRecord(spec);
  } catch (error) {
    throw new UsageError(`invalid ${flag} "${spec}": ${(error as Error).message}`, {
      hint: `Use key=value pairs separated by commas, e.g. ${example}.`,
    });
  }
  const attrs: Record<string, string> = {};
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq <= 0)
      throw new UsageError(`invalid ${flag} "${spec}"`, {
        hint: `Use key=value pairs separated by commas, e.g. ${example}.`,
      });
    attrs[field.slice(0, eq).trim().toLowerCase()] = field.slice(eq + 1).trim();
  }
  return attrs;
}
