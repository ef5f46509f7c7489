/**
 * Spawning the few system tools Node has no API for: mknod (device nodes, FIFOs,
 * overlay whiteouts) and getfattr/setfattr (extended attributes, including the
 * `trusted.overlay.*` ones overlayfs uses). Callers batch their work to spawn rarely.
 */
import { spawn } from 'node:child_process';
import { ToolError } from './errors.ts';

/** Run a tool, feed it `input`, and return its stdout; throws ToolError on failure. */
export function runTool(tool: string, args: string[], input?: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => reject(new ToolError(tool, e.message, { cause: e })));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(out));
      const stderr = Buffer.concat(err).toString('utf8').trim();
      reject(new ToolError(tool, stderr || `exited with ${code ?? signal}`));
    });
    // A tool that exits early closes stdin; its exit status tells what went wrong.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

/** Linux dev_t → (major, minor), as glibc's major()/minor() do. */
export function splitDevice(rdev: number): { major: number; minor: number } {
  const lo = rdev >>> 0;
  const hi = Math.floor(rdev / 2 ** 32) >>> 0;
  const major = (((lo >>> 8) & 0xfff) | (hi & 0xfffff000)) >>> 0;
  const minor = ((lo & 0xff) | (((lo >>> 12) | (hi << 20)) & 0xffffff00)) >>> 0;
  return { major, minor };
}
