/** `KEY=VALUE` lists (`--build-arg`, `--label`), as docker build takes them. */
import { UsageError } from '../../shared/errors.ts';

/**
 * `KEY=VALUE` items into a record. A bare `KEY` takes its value from `env` when set there
 * (docker's `--build-arg KEY`), and is left out otherwise.
 */
export function parseKeyValues(
  list: readonly string[] | undefined,
  flag: string,
  env: Readonly<Record<string, string | undefined>> = {},
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const eq = item.indexOf('=');
    if (eq === 0)
      throw new UsageError(`invalid ${flag} "${item}"`, { hint: `Use ${flag} KEY=VALUE.` });
    if (eq < 0) {
      const value = env[item];
      if (value !== undefined) out[item] = value;
      continue;
    }
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** `NAME=VALUE` items whose value is required (`--build-context`). */
export function parseNamedValues(
  list: readonly string[] | undefined,
  flag: string,
  example: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0 || eq === item.length - 1)
      throw new UsageError(`invalid ${flag} "${item}"`, { hint: `Use ${flag} ${example}.` });
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}
