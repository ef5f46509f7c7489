/**
 * Helpers for end-to-end build tests: a context from an inline file tree, a build through
 * the CLI's build command in this process with JSON progress, and the events reduced to
 * what a user would check.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { ensureBusyboxImage } from './base-images.ts';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ProgressEvent } from '../../src/shared/progress.ts';
import { runBuildInProcess, TBUILD_BIN, type RunTbuildResult } from './run-tbuild.ts';

/** Write `files` (path → content) under a new temp directory and return it. */
export async function makeContext(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tbuild-ctx-'));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
}

export interface BuildRun extends RunTbuildResult {
  events: ProgressEvent[];
  /** Names of steps that ran (vertex.started), in order. */
  ran: string[];
  /** Names of steps that came from the cache. */
  cached: string[];
}

export function parseEvents(stderr: string): ProgressEvent[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as ProgressEvent);
}

/** `tbuild build --root STORE --progress=json ARGS… CONTEXT`, run in this process. */
export async function build(
  store: string,
  context: string,
  args: string[] = [],
): Promise<BuildRun> {
  const result = await runBuildInProcess([
    'build',
    '--root',
    store,
    '--progress=json',
    ...args,
    context,
  ]);
  const events = parseEvents(result.stderr);
  return {
    ...result,
    events,
    ran: events.flatMap((e) => (e.type === 'vertex.started' ? [e.name] : [])),
    cached: events.flatMap((e) => (e.type === 'vertex.cached' ? [e.name] : [])),
  };
}

/** Steps that did real work: not the context load and not FROM (sources run on every build). */
export function workSteps(names: readonly string[]): string[] {
  return names.filter((n) => !n.startsWith('[internal]') && !/\bFROM\b/.test(n));
}

/**
 * Start a build in the background and resolve once a step whose name matches `step` has
 * started; returns the child so the caller can kill it.
 */
export function startBuildUntil(
  store: string,
  context: string,
  step: RegExp,
): Promise<{ kill(): void; exited: Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [TBUILD_BIN, 'build', '--root', store, '--progress=json', context],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    let buffer = '';
    child.stderr.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (const event of parseEvents(buffer)) {
        if (event.type === 'vertex.started' && step.test(event.name)) {
          resolve({ kill: () => child.kill('SIGKILL'), exited });
          return;
        }
      }
    });
    child.on('error', reject);
    void exited.then((code) =>
      reject(new Error(`build exited (${code}) before step ${step} started:\n${buffer}`)),
    );
  });
}

/**
 * A store holding the busybox base image and a scratch folder for outputs, made before
 * the file's tests and removed after. Read `.store` / `.scratch` inside tests.
 */
export function useBuildStore(): { readonly store: string; readonly scratch: string } {
  const dirs = { store: '', scratch: '' };
  beforeAll(async () => {
    dirs.store = mkdtempSync(path.join(os.tmpdir(), 'tbuild-store-'));
    dirs.scratch = mkdtempSync(path.join(os.tmpdir(), 'tbuild-out-'));
    await ensureBusyboxImage(dirs.store);
  });
  afterAll(() => {
    rmSync(dirs.store, { recursive: true, force: true });
    rmSync(dirs.scratch, { recursive: true, force: true });
  });
  return dirs;
}
