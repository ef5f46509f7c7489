/**
 * Progress renderers: turn the solver's and engine's ProgressEvents into what a person
 * (tty, plain) or a program (json) reads. The only module that writes to the terminal.
 */
import type { Renderer, RendererMode, RendererOptions, Writable } from './types.ts';

export type { Renderer, RendererMode, RendererOptions, Writable } from './types.ts';
export type { GitHubRendererOptions } from './github.ts';

/** The mode `auto` stands for on `stream`: live on a real terminal, plain otherwise. */
export function resolveRendererMode(
  mode: RendererMode,
  stream: Writable,
  env: Readonly<Record<string, string | undefined>> = {},
): Exclude<RendererMode, 'auto'> {
  if (mode !== 'auto') return mode;
  return stream.isTTY === true && env.TERM !== 'dumb' ? 'tty' : 'plain';
}

/**
 * A renderer for `mode` writing to `stream` (usually stderr). Pass `sink` as the
 * build's `onProgress` and call `close()` once the build has ended, failed or not. Only
 * the chosen renderer's module loads: the live one pulls in chalk, the others need not.
 */
export async function openRenderer(
  mode: RendererMode,
  stream: Writable,
  options: RendererOptions & { env?: Readonly<Record<string, string | undefined>> } = {},
): Promise<Renderer> {
  const { env, ...rendererOptions } = options;
  switch (resolveRendererMode(mode, stream, env)) {
    case 'tty':
      return (await import('./tty.ts')).createTtyRenderer(stream, rendererOptions);
    case 'plain':
      return (await import('./plain.ts')).createPlainRenderer(stream, rendererOptions);
    case 'json':
      return (await import('./json.ts')).createJsonRenderer(stream);
    case 'quiet':
      return (await import('./quiet.ts')).createQuietRenderer(stream);
  }
}
