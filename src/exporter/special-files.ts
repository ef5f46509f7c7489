/**
 * Device nodes, FIFOs and overlay whiteouts (character device 0:0). Node has no mknod(2),
 * so these spawn `mknod`; whiteouts are made with one spawn per batch and hard links for
 * the rest, as overlayfs itself shares one whiteout inode.
 */
import { link } from 'node:fs/promises';
import { DeviceNodeError, ToolError } from './errors.ts';
import { runTool } from './tools.ts';

export type NodeType = 'char' | 'block' | 'fifo';

/** Create a device node or FIFO at `path` with exactly `mode` (permission bits). */
export async function makeNode(
  path: string,
  type: NodeType,
  mode: number,
  major = 0,
  minor = 0,
): Promise<void> {
  const code = type === 'char' ? 'c' : type === 'block' ? 'b' : 'p';
  const numbers = type === 'fifo' ? [] : [String(major), String(minor)];
  try {
    await runTool('mknod', ['-m', (mode & 0o7777).toString(8), path, code, ...numbers]);
  } catch (err) {
    if (err instanceof ToolError) throw new DeviceNodeError(path, err.message, { cause: err });
    throw err;
  }
}

/** Create overlay whiteouts (char 0:0, mode 0) at every path. */
export async function makeWhiteouts(paths: readonly string[]): Promise<void> {
  const [first, ...rest] = paths;
  if (first === undefined) return;
  await makeNode(first, 'char', 0);
  for (const path of rest) await link(first, path);
}
