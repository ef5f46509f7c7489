/**
 * JSON lines: each ProgressEvent, exactly as emitted, on its own line. This is the
 * machine-readable contract (see README.md in this folder); never add decoration here.
 */
import type { ProgressEvent } from '../shared/progress.ts';
import type { Renderer, Writable } from './types.ts';

/** A renderer that writes one JSON object per event to `stream`. */
export function createJsonRenderer(stream: Writable): Renderer {
  return {
    sink: (event: ProgressEvent) => {
      stream.write(JSON.stringify(event) + '\n');
    },
    close: () => undefined,
  };
}
