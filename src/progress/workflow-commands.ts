/**
 * GitHub Actions workflow commands (`::name key=value::message`), escaped as the runner
 * reads them: the same rules as @actions/core's issueCommand (checked against it in tests).
 */

/** Annotation properties, in @actions/core's names (`line`, `endLine`, `col`, `endColumn`). */
export interface CommandProperties {
  title?: string | undefined;
  file?: string | undefined;
  line?: number | undefined;
  endLine?: number | undefined;
  col?: number | undefined;
  endColumn?: number | undefined;
  [key: string]: string | number | undefined;
}

/** A message: `%`, CR and LF are the runner's escapes. */
export function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** A property value: also `:` and `,`, which separate properties. */
export function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** One command line (without the newline); empty properties are left out, as core does. */
export function formatCommand(
  name: string,
  properties: CommandProperties,
  message: string,
): string {
  const props = Object.entries(properties)
    .filter(([, value]) => value !== undefined && value !== '' && value !== 0)
    .map(([key, value]) => `${key}=${escapeProperty(String(value))}`);
  return `::${name}${props.length ? ' ' + props.join(',') : ''}::${escapeData(message)}`;
}
