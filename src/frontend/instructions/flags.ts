/**
 * `--flag` parsing for instructions, with Docker's rules: string flags need `=value`
 * and may appear once; boolean flags take no value or `=true|false`; list flags repeat.
 */
import { closestMatch } from '../../shared/errors.ts';
import type { SourceLocation } from '../../shared/errors.ts';
import { didYouMean, InvalidInstructionError, UnknownFlagError } from '../errors.ts';

export type FlagKind = 'string' | 'bool' | 'list';

/** Parsed flag values, read through typed getters. */
export interface ParsedFlags {
  string(name: string): string | undefined;
  bool(name: string): boolean | undefined;
  list(name: string): string[];
}

/**
 * Parse the instruction's raw flag words against the flags it accepts. Throws an
 * UnknownFlagError (with "did you mean") for a flag it does not accept.
 */
export function parseFlags(
  instruction: string,
  words: readonly string[],
  accepted: Record<string, FlagKind>,
  location: SourceLocation,
): ParsedFlags {
  const values = new Map<string, string | boolean | string[]>();
  for (const word of words) {
    const body = word.replace(/^--/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const value = eq < 0 ? undefined : body.slice(eq + 1);
    const kind = accepted[name];
    if (!kind) throw unknownFlag(instruction, name, Object.keys(accepted), location);
    if (kind === 'bool') {
      values.set(name, parseBool(instruction, name, value, location));
    } else if (value === undefined) {
      throw new InvalidInstructionError(`${instruction} --${name} is missing a value`, {
        hint: `Write it as --${name}=<value>.`,
        location,
      });
    } else if (kind === 'list') {
      values.set(name, [...((values.get(name) as string[] | undefined) ?? []), value]);
    } else if (values.has(name)) {
      throw new InvalidInstructionError(`${instruction} has --${name} more than once`, {
        hint: `Keep one --${name} flag.`,
        location,
      });
    } else {
      values.set(name, value);
    }
  }
  return {
    string: (name) => values.get(name) as string | undefined,
    bool: (name) => values.get(name) as boolean | undefined,
    list: (name) => (values.get(name) as string[] | undefined) ?? [],
  };
}

function unknownFlag(
  instruction: string,
  name: string,
  accepted: string[],
  location: SourceLocation,
): UnknownFlagError {
  const fallback =
    accepted.length === 0
      ? `${instruction} takes no flags; remove --${name}.`
      : `${instruction} accepts ${accepted.map((f) => `--${f}`).join(', ')}.`;
  const suggestion = closestMatch(name, accepted);
  return new UnknownFlagError(`unknown flag for ${instruction}: --${name}`, {
    hint: didYouMean(suggestion && `--${suggestion}`, fallback),
    location,
  });
}

function parseBool(
  instruction: string,
  name: string,
  value: string | undefined,
  location: SourceLocation,
): boolean {
  if (value === undefined || value.toLowerCase() === 'true') return true;
  if (value.toLowerCase() === 'false') return false;
  throw new InvalidInstructionError(`${instruction} --${name}=${value} is not a boolean`, {
    hint: `Use --${name}, --${name}=true or --${name}=false.`,
    location,
  });
}
