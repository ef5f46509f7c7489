/**
 * How watch mode talks to a person: a line when it starts watching, the build's own
 * progress, then one summary per build (what changed, which steps reran and why, how long
 * from the change to the image), container and --exec output with a prefix, and errors
 * with their Dockerfile lines, after which it keeps watching.
 */
import type { StepResult } from '../../builder/index.ts';
import type { WatchEvent, WatchSummary } from '../../watch/types.ts';
import { formatError } from '../errors.ts';

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)}s`;
const short = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);

/** Text for one event, or undefined for events shown elsewhere (by the build's renderer). */
export function formatWatchEvent(event: WatchEvent): string | undefined {
  switch (event.type) {
    case 'watching':
      return `[watch] watching ${event.paths.join(', ')} (r: rebuild, q: quit)`;
    case 'changes':
      return `[watch] changed: ${listFiles(event.paths)}`;
    case 'watch-error':
      return `[watch] the file watcher reported a problem (${(event.error as Error)?.message ?? String(event.error)}); rebuilding from a full listing`;
    case 'build-started':
      return `[watch] build ${event.build} started${event.reason === 'forced' ? ' (forced)' : ''}`;
    case 'build-cancelled':
      return `[watch] build ${event.build} cancelled: files changed while it ran`;
    case 'build-succeeded':
      return formatSummary(event.summary).join('\n');
    case 'build-failed':
      return `${formatError(event.error).text}\n[watch] build ${event.build} failed; waiting for changes`;
    case 'container-started':
      return `[watch] running ${short(event.imageId)}`;
    case 'container-exited':
      return `[watch] container of ${short(event.imageId)} exited with code ${event.exitCode}`;
    case 'container-stopped':
      return `[watch] stopped the container of ${short(event.imageId)}`;
    case 'container-failed':
      return `[watch] could not run ${short(event.imageId)}:\n${formatError(event.error).text}`;
    case 'exec-finished':
      return `[watch] ${event.command}: exit code ${event.exitCode}`;
    case 'container-output':
    case 'exec-output':
      return undefined;
  }
}

function listFiles(paths: readonly string[]): string {
  const shown = paths.slice(0, 8).join(', ');
  return paths.length > 8 ? `${shown} and ${paths.length - 8} more` : shown;
}

/** The summary after a successful build: changes, steps that reran with why, timing. */
export function formatSummary(summary: WatchSummary): string[] {
  const { result } = summary;
  // Sources run on every build (they are never cached): worth a line only when what they
  // stand for changed, which their cache-miss reason then says (a base image's new digest).
  const steps = result.steps.filter(
    (s) => !s.name.startsWith('[internal]') && !(s.status === 'ran' && s.cacheMiss === undefined),
  );
  const ran = steps.filter((s) => s.status === 'ran');
  const lines = [
    `[watch] build ${summary.build}: image ${short(result.imageId)} ready ` +
      (summary.build === 1
        ? `in ${seconds(summary.durationMs)}`
        : `${seconds(summary.latencyMs)} after the first change (build ${seconds(summary.durationMs)})`),
  ];
  if (summary.changed.length > 0) lines.push(`  changed: ${listFiles(summary.changed)}`);
  lines.push(
    `  ${ran.length} step${ran.length === 1 ? '' : 's'} ran, ${steps.length - ran.length} cached`,
  );
  for (const step of ran) lines.push(`    ${formatStep(step)}`);
  return lines;
}

function formatStep(step: StepResult): string {
  const time = step.durationMs === undefined ? '' : ` (${seconds(step.durationMs)})`;
  return `${step.name}${time}${step.cacheMiss ? `: ${step.cacheMiss}` : ''}`;
}

/** Prefix every line of a container's or command's output, keeping partial lines for later. */
export function createLinePrefixer(prefix: string, write: (text: string) => void) {
  let partial = '';
  return {
    push(data: Buffer) {
      const text = partial + data.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop()!;
      for (const line of lines) write(`${prefix}${line}\n`);
    },
    flush() {
      if (partial !== '') write(`${prefix}${partial}\n`);
      partial = '';
    },
  };
}
