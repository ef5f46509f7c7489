/**
 * Spawning the few system tools Node has no API for: mknod (device nodes, FIFOs,
 * overlay whiteouts) and getfattr/setfattr (extended attributes, including the
 * `trusted.overlay.*` ones overlayfs uses), and cp -a for a whole tree. Callers batch
 * their work to spawn rarely. Short tools go through the command server (ADR 21).
 */
import { runShortCommand, spawnDirectly } from '../shared/command-server.ts';
import { ToolError } from './errors.ts';

/**
 * Run a tool, feed it `input`, and return its stdout; throws ToolError on failure.
 * `long` tools (a copy of a tree) are spawned by this process, so Ctrl-C stops them.
 */
export async function runTool(
  tool: string,
  args: string[],
  input?: Buffer | string,
  options: { long?: boolean } = {},
): Promise<Buffer> {
  const run = options.long === true ? spawnDirectly : runShortCommand;
  const result = await run(tool, args, input === undefined ? {} : { input }).catch(
    (error: Error) => {
      throw new ToolError(tool, error.message, { cause: error });
    },
  );
  if (result.code === 0) return result.stdout;
  const stderr = result.stderr.toString('utf8').trim();
  throw new ToolError(tool, stderr || `exited with ${result.code}`);
}

/** Linux dev_t → (major, minor), as glibc's major()/minor() do. */
export function splitDevice(rdev: number): { major: number; minor: number } {
  const lo = rdev >>> 0;
  const hi = Math.floor(rdev / 2 ** 32) >>> 0;
  const major = (((lo >>> 8) & 0xfff) | (hi & 0xfffff000)) >>> 0;
  const minor = ((lo & 0xff) | (((lo >>> 12) | (hi << 20)) & 0xffffff00)) >>> 0;
  return { major, minor };
}
