/**
 * Process identity for leases. A pid alone is not enough (pids are reused), so an owner
 * is (pid, start time in clock ticks since boot), read from /proc/<pid>/stat.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/<pid>/stat; 0 when unknown (no /proc). */
  startTime: number;
}

/** Start time of a process, or undefined when no such process exists. */
export function readProcessStartTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  // The command name (field 2) is in parentheses and may hold spaces: split after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  if (state === 'Z' || state === 'X') return undefined; // a zombie holds nothing
  return Number(fields[19]);
}

let self: ProcessIdentity | undefined;

/** This process's identity. */
export function currentProcess(): ProcessIdentity {
  self ??= { pid: process.pid, startTime: readProcessStartTime(process.pid) ?? 0 };
  return self;
}

/** Whether the process that took a lease still runs (same pid and same start time). */
export function isProcessAlive(owner: ProcessIdentity): boolean {
  const start = readProcessStartTime(owner.pid);
  return start !== undefined && (owner.startTime === 0 || start === owner.startTime);
}

/** A lease name `<pid>-<start>-<random>`: directories so named die with their owner. */
export function createLeaseName(): string {
  const me = currentProcess();
  return `${me.pid}-${me.startTime}-${randomBytes(4).toString('hex')}`;
}

/**
 * The owner named by a lease, or undefined for names that are not leases. Names that
 * start with `<pid>-` only (made by other code) are owned by that pid, start time unknown.
 */
export function parseLeaseName(name: string): ProcessIdentity | undefined {
  const full = /^(\d+)-(\d+)-[0-9a-f]+$/.exec(name);
  if (full) return { pid: Number(full[1]), startTime: Number(full[2]) };
  const pidOnly = /^(\d+)-/.exec(name);
  return pidOnly ? { pid: Number(pidOnly[1]), startTime: 0 } : undefined;
}
