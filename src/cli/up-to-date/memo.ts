/**
 * A build's memo (ADR 23): what a repeatable build gave, kept in the store under the key
 * of its invocation, so that the same command can answer without building while nothing
 * it reads has changed.
 */
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { InputPaths } from './fingerprint.ts';

export const MEMO_VERSION = 1;

/** Memos kept per store: the newest, one per invocation (a CI runner's differ each run). */
const MAX_MEMOS = 16;

/** Progress modes a memo can answer in (a JSON consumer expects the build's events). */
export const MEMO_PROGRESS = ['auto', 'tty', 'plain', 'quiet'] as const;
export type MemoProgress = (typeof MEMO_PROGRESS)[number];

export interface Memo {
  version: typeof MEMO_VERSION;
  /** The store, as the build resolved it. */
  root: string;
  inputs: InputPaths & { signature: string };
  /** The store's generation the build left (and found). */
  storeGeneration: string;
  imageId: string;
  /** Normalized names the image was given (`docker.io/library/app:1`). */
  names: string[];
  progress: MemoProgress;
  quiet: boolean;
  /** `--iidfile`'s absolute path: written again by an answer, as by the build. */
  iidfile?: string;
  warnings: Array<{ message: string; rule?: string | undefined }>;
  /** When the build that made the memo ran (ms since the epoch). */
  builtAt: number;
}

function memoDir(root: string): string {
  return join(root, 'up-to-date');
}

export function readMemo(root: string, key: string): Memo | undefined {
  let text: string;
  try {
    text = readFileSync(join(memoDir(root), `${key}.json`), 'utf8');
  } catch {
    return undefined;
  }
  const memo = JSON.parse(text) as Memo;
  const known = memo.version === MEMO_VERSION && MEMO_PROGRESS.includes(memo.progress);
  return known ? memo : undefined;
}

/** Write through a rename (a reader sees the old memo or the new); keep the newest few. */
export function writeMemo(key: string, memo: Memo): void {
  const dir = memoDir(memo.root);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${key}.json`);
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(memo), { mode: 0o600 });
  renameSync(temp, file);
  const memos = readdirSync(dir).filter((name) => name.endsWith('.json'));
  if (memos.length <= MAX_MEMOS) return;
  const byAge = memos
    .map((name) => ({ name, mtime: statSync(join(dir, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const { name } of byAge.slice(MAX_MEMOS)) rmSync(join(dir, name), { force: true });
}
