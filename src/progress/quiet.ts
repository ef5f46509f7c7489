/**
 * `-q`: nothing while the build runs (stdout gets the image ID). When a step fails, its
 * last output is printed, boxed as BuildKit boxes it: without it the user would see the
 * error with nothing that explains it.
 */
import { BuildState, formatFailedSteps } from './steps.ts';
import type { Renderer, Writable } from './types.ts';

export function createQuietRenderer(stream: Writable): Renderer {
  const state = new BuildState();
  let closed = false;
  return {
    sink: (event) => {
      if (closed) return;
      const step = state.apply(event);
      // Keep an unterminated last line: it is often the error message.
      if (step && event.type === 'vertex.error') state.flushPartial(step, event.time);
    },
    close: () => {
      if (closed) return;
      closed = true;
      const failed = formatFailedSteps(state);
      if (failed) stream.write(failed);
    },
  };
}
