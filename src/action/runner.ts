/**
 * Talking to the Actions runner: workflow commands on stdout (masks, annotations, groups)
 * and file commands (GITHUB_OUTPUT, GITHUB_STATE, GITHUB_STEP_SUMMARY), in @actions/core's
 * formats. Everything goes through an ActionIO so that tests can run the Action in-process.
 */
import { randomUUID } from 'node:crypto';
import { appendFile } from 'node:fs/promises';
import { EOL } from 'node:os';
import { formatCommand, type CommandProperties } from '../progress/workflow-commands.ts';
import type { Env } from './inputs.ts';

/** The process as the Action sees it: what the runner gave it. */
export interface ActionIO {
  env: Env;
  stdout: { write(chunk: string): unknown };
  /** Where relative inputs start: the runner starts actions in GITHUB_WORKSPACE. */
  cwd: string;
  signal: AbortSignal;
  /** The effective user id: the runner's user is not root. */
  uid: number;
}

export function command(io: ActionIO, name: string, props: CommandProperties, message: string) {
  io.stdout.write(formatCommand(name, props, message) + EOL);
}

/** `::add-mask::` for a value and, for a multi-line value, each of its lines. */
export function mask(io: ActionIO, value: string): void {
  const parts = new Set([value, ...value.split(/\r?\n/).map((l) => l.trim())]);
  for (const part of parts) if (part.length > 0) command(io, 'add-mask', {}, part);
}

/** `name<<ghadelimiter_UUID`, value, delimiter: a file command entry, as core writes it. */
export function keyValueEntry(key: string, value: string): string {
  const delimiter = `ghadelimiter_${randomUUID()}`;
  if (key.includes(delimiter) || value.includes(delimiter))
    throw new Error(`a value contains the file command delimiter ${delimiter}`);
  return `${key}<<${delimiter}${EOL}${value}${EOL}${delimiter}${EOL}`;
}

/** Set a step output (GITHUB_OUTPUT; the old `::set-output` without it, as core does). */
export async function setOutput(io: ActionIO, name: string, value: string): Promise<void> {
  const file = io.env.GITHUB_OUTPUT;
  if (file) return appendFile(file, keyValueEntry(name, value), 'utf8');
  io.stdout.write(EOL);
  command(io, 'set-output', { name }, value);
}

/** Append markdown to the job summary, when the runner asked for one. */
export async function appendSummary(io: ActionIO, markdown: string): Promise<void> {
  const file = io.env.GITHUB_STEP_SUMMARY;
  if (file) await appendFile(file, markdown, 'utf8');
}

export function info(io: ActionIO, line: string): void {
  io.stdout.write(line + EOL);
}

export async function group<T>(io: ActionIO, title: string, fn: () => Promise<T>): Promise<T> {
  command(io, 'group', {}, title);
  try {
    return await fn();
  } finally {
    command(io, 'endgroup', {}, '');
  }
}
