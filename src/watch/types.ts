/** Watch mode's contract: what the loop is given, and the events a front door renders. */
import type { BuildResult, ProgressSink } from '../builder/index.ts';

export interface WatchOptions {
  /** Quiet time after the last change before a build starts (default 100 ms). */
  debounceMs: number;
  /** A change during a build waits for it to finish, instead of cancelling it. */
  queue: boolean;
  /** Run the built image after each successful build (`--run`), restarting it each time. */
  run?: { command?: readonly string[]; stopTimeoutMs: number };
  /** A host shell command after each successful build (`--exec`), with TBUILD_IMAGE_ID set. */
  exec?: string;
}

/** What one build of the loop changed and did. */
export interface WatchSummary {
  /** The build's number in this session, from 1. */
  build: number;
  /** Files whose changes this build took in (relative to the working directory). */
  changed: string[];
  result: BuildResult;
  /** From the first change this build took in (or the start, for the first build) to ready. */
  latencyMs: number;
  durationMs: number;
}

export type WatchEvent =
  | { type: 'watching'; paths: string[] }
  | { type: 'changes'; paths: string[] }
  /** The watcher failed; the next build lists everything again. */
  | { type: 'watch-error'; error: unknown }
  | { type: 'build-started'; build: number; reason: 'initial' | 'changes' | 'forced' }
  | { type: 'build-cancelled'; build: number }
  | { type: 'build-succeeded'; summary: WatchSummary }
  | { type: 'build-failed'; build: number; error: unknown }
  | { type: 'container-started'; imageId: string }
  | { type: 'container-exited'; imageId: string; exitCode: number }
  /** Stopped on purpose: a newer image replaced it, or watching ended. */
  | { type: 'container-stopped'; imageId: string }
  | { type: 'container-failed'; imageId: string; error: unknown }
  | { type: 'container-output'; stream: 'stdout' | 'stderr'; data: Buffer }
  | { type: 'exec-finished'; command: string; exitCode: number }
  | { type: 'exec-output'; stream: 'stdout' | 'stderr'; data: Buffer };

/** How the loop talks to its front door. */
export interface WatchIO {
  onEvent(event: WatchEvent): void;
  /** A progress sink for one build (a fresh renderer each time), and its close. */
  openProgress(build: number): Promise<{ sink: ProgressSink; close(): void }>;
}
