/**
 * `--format` as docker's CLI takes it: Go-template-style field paths (`{{.ID}}`,
 * `{{.Config.Env}}`, `{{json .}}`), `\t` for a tab, and for listings `table` (the default
 * columns) or `table TEMPLATE` (a header from the field names, then aligned columns) and
 * `json` (one object per line).
 */
import { UsageError } from '../shared/errors.ts';

export interface TemplateOptions {
  /** Where the field names can be seen, for the error about an unknown field. */
  fieldsHint: string;
}

/** Expand `{{.A.B}}` and `{{json .A.B}}` actions; text outside actions is kept. */
export function renderTemplate(template: string, data: unknown, options: TemplateOptions): string {
  return template
    .replace(
      /\{\{\s*(json\s+)?(\.[\w.]*)\s*\}\}/g,
      (_all, json: string | undefined, path: string) => {
        let value: unknown = data;
        for (const key of path.split('.').filter(Boolean)) {
          if (value === null || typeof value !== 'object' || !(key in value)) {
            throw new UsageError(`template: no field "${key}" in ${path}`, {
              hint: options.fieldsHint,
            });
          }
          value = (value as Record<string, unknown>)[key];
        }
        return json ? goJson(value ?? null) : formatGoValue(value);
      },
    )
    .replace(/\{\{.*?\}\}/g, (action) => {
      throw new UsageError(`template: unsupported action ${action}`, {
        hint: "Use field paths ('{{.ID}}', '{{.Config.Env}}') or '{{json .Config}}'.",
      });
    });
}

/** How Go's text/template prints a value: slices as [a b], maps as map[k:v]. */
function formatGoValue(value: unknown): string {
  if (value === undefined || value === null) return '<no value>';
  if (Array.isArray(value)) return `[${value.map(formatGoValue).join(' ')}]`;
  if (typeof value === 'object')
    return `map[${Object.entries(value)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}:${formatGoValue(v)}`)
      .join(' ')}]`;
  return String(value);
}

/** Go's encoding/json: `<`, `>` and `&` escaped, as docker's `--format json` prints them. */
export function goJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026');
}

export interface ListingFormat<Row> {
  /** Column headers by field name (`ID` → `IMAGE ID`). */
  headers: Readonly<Record<string, string>>;
  /** The template `table` alone stands for. */
  defaultTable: string;
  fieldsHint: string;
  /** The object `json` prints for a row (docker's JSON field set). */
  toJson(row: Row): Record<string, unknown>;
}

/** Render `rows` for `--format` (table, table TEMPLATE, json or TEMPLATE). */
export function renderListing<Row extends object>(
  format: string,
  rows: readonly Row[],
  spec: ListingFormat<Row>,
): string {
  if (format === 'json')
    return rows.map((row) => goJson(sortKeys(spec.toJson(row))) + '\n').join('');
  const unescaped = format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const isTable = unescaped === 'table' || unescaped.startsWith('table ');
  const template = isTable
    ? unescaped.slice('table'.length).trim() || spec.defaultTable
    : unescaped;
  const options = { fieldsHint: spec.fieldsHint };
  const lines = rows.map((row) => renderTemplate(template, row, options));
  if (!isTable) return lines.map((line) => line + '\n').join('');
  const header = renderTemplate(template.replace(/\{\{\s*json\s+/g, '{{'), spec.headers, options);
  return alignColumns([header, ...lines].map((line) => line.split('\t')));
}

/** Left-aligned columns three spaces apart, like docker's tables (its tabwriter). */
export function alignColumns(rows: readonly string[][]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join(''),
    )
    .join('\n')
    .concat(rows.length ? '\n' : '');
}

function sortKeys(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1)));
}
