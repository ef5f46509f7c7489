/** What scenarios receive from the runner and what they hand back. */
import type { Stats } from './measure.ts';
import type { Tool } from './tools.ts';

export interface BenchEnv {
  /** A scratch directory for this run (removed afterwards unless BENCH_KEEP=1). */
  work: string;
  /** Measured runs per tool and case (BENCH_RUNS). */
  runs: number;
  /** The tools to compare: tbuild alone when Docker does not answer. */
  tools: Tool[];
  /** A fresh tbuild store under `work` holding localhost:5000/busybox:latest. */
  newStore(name: string): Promise<string>;
  /** Delete a store made by newStore (no build may be running in it). */
  removeStore(root: string): Promise<void>;
  /** Progress lines on stderr, so that stdout stays the result table. */
  log(message: string): void;
}

export interface Row {
  scenario: string;
  case: string;
  tbuild?: Stats;
  buildkit?: Stats;
  /** Median tbuild / median BuildKit (below 1 means tbuild is faster). */
  ratio?: number;
  /** The goal the issue sets for this row, e.g. "< 0.5". */
  target?: string;
  /** The highest peak RSS of tbuild's runs in this row (MB). */
  tbuildPeakRssMb?: number;
  note?: string;
}

export interface Scenario {
  name: string;
  describe: string;
  run(env: BenchEnv): Promise<Row[]>;
}
