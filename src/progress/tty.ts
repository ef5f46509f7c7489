/**
 * The live terminal view, modelled on BuildKit's: a block redrawn in place at most ten
 * times a second, one line per step with its time, the last few log lines under each
 * running step; the final block stays on screen, followed by the failing step's output.
 *
 *     [+] Building 3.2s (5/8)
 *      => CACHED [base 1/3] FROM docker.io/library/alpine     0.0s
 *      => [build 2/5] RUN make                                 1.2s
 *      => => # cc -o app main.c
 */
import type { ChalkInstance, Chalk as ChalkClass } from 'chalk';
import { lazyModule } from '../shared/lazy-module.ts';
import { BuildState, formatFailedSteps, formatSeconds } from './steps.ts';
import type { Step } from './steps.ts';
import type { Renderer, RendererOptions, Writable } from './types.ts';

const REDRAW_MS = 100;
const LIVE_LOG_LINES = 6;
const ESC = '\x1b[';

interface Line {
  text: string;
  time?: string;
  paint?: (s: string) => string;
}

/**
 * A renderer that redraws a BuildKit-like block on the terminal `stream`. chalk is loaded
 * here, for a terminal only: the build's one-file bundle would otherwise load it (~10 ms)
 * for every build, with plain, JSON or quiet progress too (ADR 19).
 */
export async function createTtyRenderer(
  stream: Writable,
  options: RendererOptions = {},
): Promise<Renderer> {
  const state = new BuildState();
  const chalk = createChalk((await import('chalk')).Chalk, options.color);
  let drawnHeight = 0;
  let dirty = false;
  let closed = false;
  const timer = setInterval(() => {
    if (dirty || hasRunning(state)) draw(false);
  }, REDRAW_MS);
  // A forgotten close() must not keep the process alive.
  timer.unref();

  function draw(final: boolean): void {
    dirty = false;
    const lines = renderFrame(state, { final, verbose: options.verbose ?? false }, chalk);
    const width = Math.max(20, (stream.columns || 80) - 1);
    // Only what fits on the screen can be redrawn in place; the final frame scrolls.
    const maxLines = final ? Infinity : Math.max(2, (stream.rows || 24) - 1);
    const shown = lines.length > maxLines ? [lines[0]!, ...lines.slice(-(maxLines - 1))] : lines;
    let out = drawnHeight > 0 ? `${ESC}${drawnHeight}A` : `${ESC}?25l`;
    for (const line of shown) out += `${ESC}2K${layout(line, width)}\n`;
    out += `${ESC}J`;
    stream.write(out);
    drawnHeight = shown.length;
  }

  return {
    sink: (event) => {
      if (closed) return;
      const step = state.apply(event);
      // Keep an unterminated last line: it is often the error message.
      if (step && (event.type === 'vertex.error' || event.type === 'vertex.completed')) {
        state.flushPartial(step, event.time);
      }
      dirty = true;
    },
    close: () => {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      draw(true);
      stream.write(`${ESC}?25h` + renderAfterword(state, chalk));
    },
  };
}

function createChalk(Chalk: typeof ChalkClass, color: boolean | undefined): ChalkInstance {
  if (color === false || process.env.NO_COLOR) return new Chalk({ level: 0 });
  return color === true ? new Chalk({ level: 1 }) : new Chalk();
}

function hasRunning(state: BuildState): boolean {
  for (const step of state.steps.values()) if (step.status === 'running') return true;
  return false;
}

/** The block: a header and one line per visible step (plus logs of running steps). */
export function renderFrame(
  state: BuildState,
  view: { final: boolean; verbose: boolean; now?: number },
  chalk: ChalkInstance,
): Line[] {
  const now = view.now ?? Date.now();
  const steps = [...state.steps.values()].filter((s) => s.status !== 'waiting');
  const finished = [...state.steps.values()].filter(
    (s) => s.status === 'done' || s.status === 'cached',
  ).length;
  const failed = steps.some((s) => s.status === 'error');
  const elapsed = state.finished?.durationMs ?? now - (state.startedAt ?? now);
  const suffix = view.final ? (failed ? ' ERROR' : ' FINISHED') : '';
  const lines: Line[] = [
    { text: `[+] Building ${formatSeconds(elapsed)} (${finished}/${state.steps.size})${suffix}` },
  ];
  for (const step of steps) {
    lines.push(renderStep(step, now, chalk));
    for (const status of step.statuses)
      lines.push({ text: ` => => ${status.text}`, time: formatSeconds(status.durationMs) });
    if (step.status !== 'running') continue;
    for (const [id, p] of step.progress) {
      lines.push({
        text: ` => => ${id} ${p.current}${p.total === undefined ? '' : `/${p.total}`}`,
      });
    }
    const tail = view.verbose ? step.logs : step.logs.slice(-LIVE_LOG_LINES);
    for (const log of tail) lines.push({ text: ` => => # ${log.text}`, paint: chalk.dim });
  }
  return lines;
}

function renderStep(step: Step, now: number, chalk: ChalkInstance): Line {
  const duration =
    step.status === 'cached'
      ? 0
      : (step.durationMs ?? (step.startedAt === undefined ? 0 : now - step.startedAt));
  const time = formatSeconds(duration);
  switch (step.status) {
    case 'cached':
      return { text: ` => CACHED ${step.name}`, time, paint: chalk.blue };
    case 'done':
      return { text: ` => ${step.name}`, time, paint: chalk.blue };
    case 'error':
      return { text: ` => ERROR ${step.name}`, time, paint: chalk.red };
    case 'cancelled':
      return { text: ` => CANCELED ${step.name}`, time, paint: chalk.yellow };
    default:
      return { text: ` => ${step.name}`, time };
  }
}

/**
 * Fit a line to the terminal: name truncated, time right-aligned, then coloured. Widths
 * are screen columns, not string lengths: a CJK character or an emoji takes two, a
 * combining mark none, so lines neither wrap nor break the redraw.
 */
function layout(line: Line, width: number): string {
  const time = line.time ?? '';
  const room = time ? width - time.length - 1 : width;
  let text = line.text.replace(/[\r\n\t]/g, ' ');
  let used = columnsOf(text);
  if (used > room) {
    const cut = cutToWidth(text, Math.max(0, room - 1));
    text = cut + '…'; // one column
    used = columnsOf(cut) + 1;
  }
  const padding = ' '.repeat(Math.max(0, room - used));
  const full = time ? `${text}${padding} ${time}` : text;
  return line.paint ? line.paint(full) : full;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * string-width costs ~50 ms to load (its Intl.Segmenter and Unicode property regexps),
 * more than a cached build takes to run, and almost every line is printable ASCII, one
 * column per character. So it is loaded when the first other line is drawn; until it is
 * there (one redraw), a non-ASCII code point counts two columns: such a line may be cut
 * a little early, never wrapped.
 */
let exactColumns: ((text: string) => number) | undefined;
const loadStringWidth = lazyModule(() => import('string-width'));

/** Load string-width now (the view does on the first non-ASCII line). */
export async function loadColumnWidths(): Promise<void> {
  exactColumns = (await loadStringWidth()).default;
}

function columnsOf(text: string): number {
  if (PRINTABLE_ASCII.test(text)) return text.length;
  if (exactColumns) return exactColumns(text);
  loadColumnWidths().catch(() => undefined); // estimated meanwhile; tried again next line
  let columns = 0;
  for (const char of text) columns += char < '\x7f' ? 1 : 2;
  return columns;
}

let graphemes: Intl.Segmenter | undefined;

/** The longest start of `text` that takes at most `columns` screen columns. */
function cutToWidth(text: string, columns: number): string {
  if (PRINTABLE_ASCII.test(text)) return text.slice(0, columns);
  graphemes ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  let out = '';
  let used = 0;
  for (const { segment } of graphemes.segment(text)) {
    const w = columnsOf(segment);
    if (used + w > columns) break;
    out += segment;
    used += w;
  }
  return out;
}

/** After the block: each failed step's last output, then warnings, as BuildKit does. */
export function renderAfterword(state: BuildState, chalk: ChalkInstance): string {
  let out = formatFailedSteps(state);
  if (state.warnings.length > 0) {
    const n = state.warnings.length;
    out += chalk.yellow(`${n} warning${n === 1 ? '' : 's'} found:\n`);
    for (const w of state.warnings) {
      const where = w.location?.range ? ` (line ${w.location.range.start})` : '';
      out += chalk.yellow(` - ${w.message}${where}\n`);
    }
  }
  return out;
}
