/**
 * The up-to-date check (ADR 23): before the build's modules load, answer a build whose
 * invocation, local inputs and store are all as a repeatable build of the same command
 * left them, with that build's result. Anything unexpected is a miss, and the build runs.
 */
import { DatabaseSync } from 'node:sqlite';
import path from 'node:path';
import { resolveLayout } from '../../cache/context.ts';
import { defaultStoreRoot } from '../../cache/default-root.ts';
import { migrations, readGeneration } from '../../cache/database.ts';
import { replaceFile } from '../../shared/replace-file.ts';
import { inUserNamespace } from '../../shared/userns.ts';
import type { ProgressEvent } from '../../shared/progress.ts';
import type { CliIO } from '../io.ts';
import { inputsSignature, invocationKey } from './fingerprint.ts';
import { readMemo, type Memo } from './memo.ts';

type CheckIO = Pick<CliIO, 'stdout' | 'stderr' | 'env' | 'cwd'>;

/**
 * The exit code of a build answered from its memo, or undefined: build. `argv` is the
 * command line as given; `codeFile` the file that holds the build's code.
 */
export async function answerIfUpToDate(
  argv: readonly string[],
  codeFile: string,
  io: CheckIO,
): Promise<number | undefined> {
  let memo: Memo | undefined;
  try {
    // As root, or as a user before the re-run in a user namespace (the rootless build's
    // memo is keyed by this process's view); never inside a namespace.
    if (inUserNamespace(io.env)) return undefined;
    const root = storeRoot(argv, io);
    if (root === undefined) return undefined;
    const { env, cwd } = io;
    const ids = { uid: process.getuid?.(), gid: process.getgid?.() };
    memo = readMemo(root, invocationKey({ argv, codeFile, cwd, env, ...ids }));
    if (memo?.root !== root || inputsSignature(memo.inputs)?.hash !== memo.inputs.signature)
      return undefined;
    if (!confirmInStore(memo)) return undefined;
    if (memo.iidfile !== undefined) await replaceFile(memo.iidfile, memo.imageId);
  } catch {
    return undefined; // an unreadable memo or store: the build finds out properly
  }
  await report(memo, io);
  return 0;
}

/** `--root` as the build reads it, else the default; undefined if given twice. */
function storeRoot(argv: readonly string[], io: CheckIO): string | undefined {
  const given: string[] = [];
  argv.forEach((arg, i) => {
    if (arg === '--root' && argv[i + 1] !== undefined) given.push(argv[i + 1]!);
    else if (arg.startsWith('--root=')) given.push(arg.slice('--root='.length));
  });
  if (given.length > 1) return undefined;
  return path.resolve(io.cwd, given[0] ?? defaultStoreRoot(io.env));
}

/** Use times are refreshed at most this often: a hit within it reads and writes nothing. */
const MARK_INTERVAL_MS = 60_000;

/**
 * The store is at the memo's generation and names the image as the memo says. Then the
 * names are refreshed as the build would (their time, the image's snapshot and cache
 * records marked used: prune keeps what builds use), which changes no generation.
 */
function confirmInStore(memo: Memo): boolean {
  const db = new DatabaseSync(resolveLayout(memo.root).database);
  try {
    db.exec('PRAGMA busy_timeout = 1000');
    db.exec('PRAGMA synchronous = NORMAL'); // as the store writes (cache/database.ts)
    const { user_version: version } = db.prepare('PRAGMA user_version').get() as {
      user_version: number;
    };
    if (version !== migrations.length) return false;
    db.exec('BEGIN');
    let confirmed = false;
    try {
      const held = readGeneration(db) === memo.storeGeneration ? heldImage(db, memo) : undefined;
      confirmed =
        held !== undefined &&
        (held.usedAt > Date.now() - MARK_INTERVAL_MS || markUsed(db, memo, held.snapshots));
    } finally {
      db.exec(confirmed ? 'COMMIT' : 'ROLLBACK');
    }
    return confirmed;
  } finally {
    db.close();
  }
}

/**
 * Whether every name is the memo's image: then its snapshots and when it was last marked
 * used (the oldest of the names' and snapshots' times).
 */
function heldImage(
  db: DatabaseSync,
  memo: Memo,
): { snapshots: Set<number>; usedAt: number } | undefined {
  type Row = { config: string; snapshot: number | null; created_at: number } | undefined;
  const named = db.prepare('SELECT config, snapshot, created_at FROM images WHERE name = ?');
  const rows = namesOf(memo).map((name) => named.get(name) as Row);
  const snapshots = new Set<number>();
  let usedAt = Infinity;
  for (const row of rows) {
    if (row?.config !== memo.imageId) return undefined;
    if (row.snapshot !== null) snapshots.add(row.snapshot);
    usedAt = Math.min(usedAt, row.created_at);
  }
  const used = db.prepare('SELECT last_used_at FROM snapshots WHERE id = ?');
  for (const id of snapshots) {
    const row = used.get(id) as { last_used_at: number } | undefined;
    if (row === undefined) return undefined;
    usedAt = Math.min(usedAt, row.last_used_at);
  }
  return { snapshots, usedAt };
}

/** The image's names; an image built without -t is kept under its ID (docker's <none>). */
function namesOf(memo: Memo): string[] {
  return memo.names.length > 0 ? memo.names : [memo.imageId];
}

/** Mark the names, their snapshots and cache records used now; false if that was a change. */
function markUsed(db: DatabaseSync, memo: Memo, snapshots: ReadonlySet<number>): boolean {
  const now = Date.now();
  for (const name of namesOf(memo))
    db.prepare('UPDATE images SET created_at = ? WHERE name = ?').run(now, name);
  for (const id of snapshots) {
    db.prepare('UPDATE snapshots SET last_used_at = ? WHERE id = ?').run(now, id);
    db.prepare(
      'UPDATE cache SET last_used_at = ? WHERE key IN (SELECT key FROM cache_refs WHERE snapshot_id = ?)',
    ).run(now, id);
  }
  // Use times are no change (see the migration); a trigger that says otherwise is a miss.
  return readGeneration(db) === memo.storeGeneration;
}

/** What the build would have shown: its warnings, the image named, -q's image ID. */
async function report(memo: Memo, io: CheckIO): Promise<void> {
  const { openRenderer } = await import('../../progress/index.ts');
  const renderer = await openRenderer(memo.progress, io.stderr, { env: io.env });
  const started = Date.now();
  // Not toLocaleTimeString: loading the locale's data takes longer than the whole check.
  const at = new Date(memo.builtAt).toTimeString().slice(0, 8);
  const events: ProgressEvent[] = [
    { type: 'build.started', time: started },
    ...task('up-to-date', `[internal] up to date: nothing changed since the build at ${at}`),
    ...task('export', 'exporting to image', [
      `writing image ${memo.imageId}`,
      ...memo.names.map((name) => `naming to ${name}`),
    ]),
    ...memo.warnings.map((w): ProgressEvent => ({ type: 'warning', time: started, ...w })),
    { type: 'build.completed', time: Date.now(), durationMs: Date.now() - started, ok: true },
  ];
  try {
    for (const event of events) renderer.sink(event);
  } finally {
    renderer.close();
  }
  if (memo.quiet) io.stdout.write(memo.imageId + '\n');

  function task(id: string, name: string, statuses: string[] = []): ProgressEvent[] {
    const time = Date.now();
    return [
      { type: 'task.started', time, id, name },
      ...statuses.map((status): ProgressEvent => ({
        type: 'task.status',
        time,
        id,
        status,
        durationMs: 0,
      })),
      { type: 'task.completed', time, id, name, durationMs: 0 },
    ];
  }
}
