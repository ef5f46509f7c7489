/** HEALTHCHECK parsing: `NONE`, or flags plus `CMD` in shell or exec form. */
import type { Instruction } from '../../parser/types.ts';
import { parseGoDuration } from './duration.ts';
import type { ParsedFlags } from './flags.ts';
import type { CommandBase, HealthcheckCommand } from './types.ts';

type Fail = (message: string, hint: string) => never;

/** Docker's smallest allowed non-zero healthcheck duration: 1ms. */
const MINIMUM_DURATION_NS = 1e6;

/** Build a HealthcheckCommand; `test` is stored as the image config expects it. */
export function parseHealthcheck(
  base: CommandBase,
  node: Instruction,
  flags: ParsedFlags,
  fail: Fail,
): HealthcheckCommand {
  const { type, rest, json } = splitType(node);
  if (type === '')
    fail('requires NONE or CMD', 'Write HEALTHCHECK [options] CMD <command> or HEALTHCHECK NONE.');
  if (type === 'NONE') {
    if (rest.length > 0)
      fail('HEALTHCHECK NONE takes no arguments', 'Remove the arguments after NONE.');
    if (node.flags.length > 0) fail('HEALTHCHECK NONE takes no flags', 'Remove the flags.');
    return { ...base, kind: 'healthcheck', test: ['NONE'] };
  }
  if (type !== 'CMD')
    fail(`unknown type "${type}"`, 'Use HEALTHCHECK CMD <command> or HEALTHCHECK NONE.');
  if (rest.length === 0 || (rest.length === 1 && rest[0]!.trim() === '')) {
    fail('missing command after HEALTHCHECK CMD', 'Write HEALTHCHECK CMD <command>.');
  }
  const cmd: HealthcheckCommand = {
    ...base,
    kind: 'healthcheck',
    test: json ? ['CMD', ...rest] : ['CMD-SHELL', rest.join(' ')],
  };
  const durations = [
    ['interval', 'interval'],
    ['timeout', 'timeout'],
    ['start-period', 'startPeriod'],
    ['start-interval', 'startInterval'],
  ] as const;
  for (const [flag, field] of durations) {
    const text = flags.string(flag);
    if (text === undefined) continue;
    const ns = parseGoDuration(text);
    if (ns === undefined)
      fail(`--${flag}=${text} is not a duration`, 'Use a duration such as 30s, 1m30s or 500ms.');
    if (ns! < 0) fail(`--${flag}=${text} cannot be negative`, 'Use a positive duration.');
    if (ns! > 0 && ns! < MINIMUM_DURATION_NS)
      fail(`--${flag}=${text} cannot be less than 1ms`, 'Use 1ms or more.');
    cmd[field] = ns!;
  }
  const retries = flags.string('retries');
  if (retries !== undefined) {
    if (!/^-?\d+$/.test(retries))
      fail(`--retries=${retries} is not an integer`, 'Use a whole number, e.g. --retries=3.');
    const n = Number(retries);
    if (n < 0) fail(`--retries cannot be negative (${n})`, 'Use 0 or more.');
    cmd.retries = n;
  }
  return cmd;
}

/**
 * The parser may hand `CMD` as its own word or inside the first shell-form string; exec
 * form may arrive as parsed JSON or as text. Normalise to type + arguments.
 */
function splitType(node: Instruction): { type: string; rest: string[]; json: boolean } {
  const args = node.args;
  if (args.length === 0) return { type: '', rest: [], json: false };
  let type = args[0]!.trim();
  let rest = args.slice(1);
  const space = type.search(/\s/);
  if (space > 0 && !node.json) {
    rest = [type.slice(space).trim(), ...rest];
    type = type.slice(0, space);
  }
  type = type.toUpperCase();
  if (node.json) return { type, rest, json: true };
  const text = rest.join(' ').trim();
  if (text.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) {
        return { type, rest: parsed as string[], json: true };
      }
    } catch (error) {
      // Not JSON after all: Docker treats it as a shell command then.
      void error;
    }
  }
  return { type, rest: text === '' ? [] : [text], json: false };
}
