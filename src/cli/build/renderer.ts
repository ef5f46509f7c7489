/**
 * Open the progress renderer a build asked for, loading only that renderer (the tty one
 * pulls in chalk; plain, json and quiet builds do not need it).
 */
import type { Renderer, RendererMode } from '../../progress/types.ts';

export async function openRenderer(
  mode: RendererMode,
  stream: NodeJS.WriteStream,
): Promise<Renderer> {
  const resolved =
    mode === 'auto' ? (stream.isTTY && process.env.TERM !== 'dumb' ? 'tty' : 'plain') : mode;
  switch (resolved) {
    case 'tty':
      return (await import('../../progress/tty.ts')).createTtyRenderer(stream);
    case 'plain':
      return (await import('../../progress/plain.ts')).createPlainRenderer(stream);
    case 'json':
      return (await import('../../progress/json.ts')).createJsonRenderer(stream);
    case 'quiet':
      return { sink: () => undefined, close: () => undefined };
  }
}
