/**
 * The stable, printable shape of a parse (what `tbuild parse` prints and what the
 * golden fixtures hold): ranges become `line`, `original` and empty `next` are left out.
 */
import type { Heredoc, Instruction, ParseResult } from './types.ts';

export interface HeredocJson {
  name: string;
  content: string;
  expand: boolean;
  chomp: boolean;
  fileDescriptor?: number;
}

export interface InstructionJson {
  name: string;
  flags: string[];
  args: string[];
  json: boolean;
  heredocs: HeredocJson[];
  line: { start: number; end: number };
  next?: InstructionJson;
}

export interface ParseResultJson {
  directives: Record<string, string>;
  instructions: InstructionJson[];
}

/** The parse as plain JSON-ready data, keys in a fixed order. */
export function formatParseResultJson(result: ParseResult): ParseResultJson {
  return {
    directives: { ...result.directives },
    instructions: result.instructions.map(formatInstructionJson),
  };
}

function formatInstructionJson(instruction: Instruction): InstructionJson {
  const json: InstructionJson = {
    name: instruction.name,
    flags: [...instruction.flags],
    args: [...instruction.args],
    json: instruction.json,
    heredocs: instruction.heredocs.map(formatHeredocJson),
    line: { start: instruction.range.start, end: instruction.range.end },
  };
  if (instruction.next) json.next = formatInstructionJson(instruction.next);
  return json;
}

function formatHeredocJson(heredoc: Heredoc): HeredocJson {
  const json: HeredocJson = {
    name: heredoc.name,
    content: heredoc.content,
    expand: heredoc.expand,
    chomp: heredoc.chomp,
  };
  if (heredoc.fileDescriptor !== undefined) json.fileDescriptor = heredoc.fileDescriptor;
  return json;
}

/** JSON form as JSON, ENV/LABEL as `name=value` pairs, the rest space-separated. */
function describeArgs(instruction: Instruction): string {
  const { args } = instruction;
  if (instruction.json) return JSON.stringify(args);
  if (instruction.name === 'ENV' || instruction.name === 'LABEL') {
    const pairs: string[] = [];
    for (let i = 0; i + 1 < args.length; i += 2) pairs.push(`${args[i]}=${args[i + 1]}`);
    return pairs.join(' ');
  }
  return args.join(' ');
}

/** One line per instruction: `3-5 RUN [--mount=…] args`, heredoc names after `<<`. */
export function formatParseResultText(result: ParseResult): string {
  return result.instructions
    .map((instruction) => {
      const { start, end } = instruction.range;
      const lines = start === end ? `${start}` : `${start}-${end}`;
      return `${lines} ${describeInstruction(instruction)}`;
    })
    .join('\n');
}

function describeInstruction(instruction: Instruction): string {
  const parts = [instruction.name];
  if (instruction.flags.length > 0) parts.push(`[${instruction.flags.join(' ')}]`);
  if (instruction.next) {
    parts.push(describeInstruction(instruction.next));
    return parts.join(' ');
  }
  if (instruction.args.length > 0) parts.push(describeArgs(instruction));
  for (const heredoc of instruction.heredocs) {
    parts.push(`(heredoc ${heredoc.name}: ${heredoc.content.split('\n').length - 1} lines)`);
  }
  return parts.join(' ');
}
