/**
 * Progress renderers: turn the solver's and engine's ProgressEvents into what a person
 * (tty, plain) or a program (json) reads. The only module that writes to the terminal.
 */
import { createJsonRenderer } from './json.ts';
import { createPlainRenderer } from './plain.ts';
import { createTtyRenderer } from './tty.ts';
import type { Renderer, RendererMode, RendererOptions, Writable } from './types.ts';

export type { Renderer, RendererMode, RendererOptions, Writable } from './types.ts';
export { createJsonRenderer } from './json.ts';
export { createPlainRenderer } from './plain.ts';
export { createTtyRenderer } from './tty.ts';

/** The mode `auto` stands for on `stream`: live on a real terminal, plain otherwise. */
export function resolveRendererMode(
  mode: RendererMode,
  stream: Writable,
  env: NodeJS.ProcessEnv = process.env,
): Exclude<RendererMode, 'auto'> {
  if (mode !== 'auto') return mode;
  return stream.isTTY === true && env.TERM !== 'dumb' ? 'tty' : 'plain';
}

/**
 * A renderer for `mode` writing to `stream` (usually stderr). Pass `sink` as the
 * build's `onProgress` and call `close()` once the build has ended, failed or not.
 */
export function createRenderer(
  mode: RendererMode,
  stream: Writable,
  options: RendererOptions = {},
): Renderer {
  switch (resolveRendererMode(mode, stream)) {
    case 'tty':
      return createTtyRenderer(stream, options);
    case 'plain':
      return createPlainRenderer(stream, options);
    case 'json':
      return createJsonRenderer(stream);
    case 'quiet':
      return { sink: () => undefined, close: () => undefined };
  }
}
