/** The renderers' contract: each turns ProgressEvents into output on one stream. */
import type { ProgressSink } from '../shared/progress.ts';

/** `auto` picks `tty` on a terminal (unless TERM=dumb) and `plain` elsewhere. */
export type RendererMode = 'auto' | 'tty' | 'plain' | 'json' | 'quiet';

/** The part of a Node stream the renderers use; a fake one is enough in tests. */
export interface Writable {
  write(chunk: string): unknown;
  isTTY?: boolean;
  /** Terminal width and height, when the stream is a terminal. */
  columns?: number;
  rows?: number;
}

export interface RendererOptions {
  /** Show more: cache-miss reasons in plain output, more log lines in the live view. */
  verbose?: boolean;
  /** Colour the live view (default: when chalk detects colour support and NO_COLOR is unset). */
  color?: boolean;
}

export interface Renderer {
  /** Feed events here (pass as `onProgress`). */
  sink: ProgressSink;
  /** Draw the final state and stop timers. Call once, when the build has ended. */
  close(): void;
}
