/**
 * The store's database: Node's built-in SQLite in WAL mode, so several processes
 * (two `tbuild build` on one store) read concurrently and take turns writing. The
 * schema is versioned with `PRAGMA user_version`; migrations run in one exclusive
 * transaction, so two processes opening a fresh store do not race.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { StoreVersionError } from './errors.ts';

/** Each entry moves the schema from version i to i + 1. Append only: never edit a shipped one. */
export const migrations: readonly string[] = [
  `
  CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    parent INTEGER REFERENCES snapshots(id),
    committed INTEGER NOT NULL DEFAULT 0,
    diff_id TEXT,
    size INTEGER,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    description TEXT,
    owner_pid INTEGER NOT NULL,
    owner_start INTEGER NOT NULL
  );
  CREATE INDEX snapshots_parent ON snapshots(parent);
  CREATE INDEX snapshots_diff_id ON snapshots(diff_id);
  CREATE TABLE layer_blobs (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id),
    digest TEXT NOT NULL,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    compression TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, digest)
  );
  CREATE INDEX layer_blobs_digest ON layer_blobs(digest);
  CREATE TABLE cache (
    key TEXT PRIMARY KEY,
    results TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    description TEXT
  );
  CREATE TABLE cache_refs (
    key TEXT NOT NULL REFERENCES cache(key),
    snapshot_id INTEGER NOT NULL,
    PRIMARY KEY (key, snapshot_id)
  );
  CREATE INDEX cache_refs_snapshot ON cache_refs(snapshot_id);
  CREATE TABLE images (
    name TEXT PRIMARY KEY,
    manifest TEXT NOT NULL,
    config TEXT NOT NULL,
    snapshot INTEGER,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX images_snapshot ON images(snapshot);
  CREATE TABLE image_blobs (
    name TEXT NOT NULL REFERENCES images(name),
    digest TEXT NOT NULL,
    PRIMARY KEY (name, digest)
  );
  CREATE INDEX image_blobs_digest ON image_blobs(digest);
  CREATE TABLE locks (
    name TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    owner_pid INTEGER NOT NULL,
    owner_start INTEGER NOT NULL,
    acquired_at INTEGER NOT NULL
  );
  CREATE TABLE sessions (
    token TEXT PRIMARY KEY,
    owner_pid INTEGER NOT NULL,
    owner_start INTEGER NOT NULL,
    opened_at INTEGER NOT NULL
  );
  `,
  `
  CREATE TABLE cache_mounts (
    name TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    last_used_at INTEGER NOT NULL
  );
  `,
  `
  CREATE TABLE key_history (
    identity TEXT PRIMARY KEY,
    facts TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  );
  `,
  // The size of a snapshot's uncompressed layer tar, found with its diff ID: a built
  // image lists its layers by both until a push or an archive compresses them (ADR 12).
  `
  ALTER TABLE snapshots ADD COLUMN tar_size INTEGER;
  `,
  // The store's generation: a count of changes to what a build's result depends on (which
  // image a name points to, which result a cache key has, which snapshots exist and what
  // they hold). Use times, sessions, locks, blobs and key history do not count. The CLI's
  // up-to-date check compares it (ADR 23). An identical re-tag (INSERT OR REPLACE of the
  // same image under the same name) does not count: REPLACE fires no delete trigger.
  `
  CREATE TABLE store_generation (id TEXT NOT NULL, n INTEGER NOT NULL);
  INSERT INTO store_generation (id, n) VALUES (lower(hex(randomblob(16))), 0);
  CREATE TRIGGER generation_images_insert BEFORE INSERT ON images
    WHEN NOT EXISTS (SELECT 1 FROM images WHERE name = NEW.name AND manifest = NEW.manifest
      AND config = NEW.config AND snapshot IS NEW.snapshot)
    BEGIN UPDATE store_generation SET n = n + 1; END;
  CREATE TRIGGER generation_images_update AFTER UPDATE ON images
    WHEN OLD.name IS NOT NEW.name OR OLD.manifest IS NOT NEW.manifest
      OR OLD.config IS NOT NEW.config OR OLD.snapshot IS NOT NEW.snapshot
    BEGIN UPDATE store_generation SET n = n + 1; END;
  CREATE TRIGGER generation_images_delete AFTER DELETE ON images
    BEGIN UPDATE store_generation SET n = n + 1; END;
  CREATE TRIGGER generation_cache_insert AFTER INSERT ON cache
    BEGIN UPDATE store_generation SET n = n + 1; END;
  CREATE TRIGGER generation_cache_update AFTER UPDATE ON cache
    WHEN OLD.key IS NOT NEW.key OR OLD.results IS NOT NEW.results
    BEGIN UPDATE store_generation SET n = n + 1; END;
  CREATE TRIGGER generation_cache_delete AFTER DELETE ON cache
    BEGIN UPDATE store_generation SET n = n + 1; END;
  CREATE TRIGGER generation_cache_refs_insert AFTER INSERT ON cache_refs
    BEGIN UPDATE store_generation SET n = n + 1; END;
  CREATE TRIGGER generation_cache_refs_delete AFTER DELETE ON cache_refs
    BEGIN UPDATE store_generation SET n = n + 1; END;
  CREATE TRIGGER generation_snapshots_insert AFTER INSERT ON snapshots
    WHEN NEW.committed != 0
    BEGIN UPDATE store_generation SET n = n + 1; END;
  CREATE TRIGGER generation_snapshots_update AFTER UPDATE ON snapshots
    WHEN OLD.committed IS NOT NEW.committed OR OLD.diff_id IS NOT NEW.diff_id
      OR OLD.parent IS NOT NEW.parent
    BEGIN UPDATE store_generation SET n = n + 1; END;
  CREATE TRIGGER generation_snapshots_delete AFTER DELETE ON snapshots
    WHEN OLD.committed != 0
    BEGIN UPDATE store_generation SET n = n + 1; END;
  `,
];

/**
 * The store's generation (see the last migration) as `<database id>.<count>`: the id
 * tells a database made again apart from the one a count was read from.
 */
export function readGeneration(db: DatabaseSync): string {
  const row = db.prepare('SELECT id, n FROM store_generation').get() as { id: string; n: number };
  return `${row.id}.${row.n}`;
}

/** Open (creating if needed) and migrate the database at `file`. */
export function openDatabase(file: string, root: string): DatabaseSync {
  const db = new DatabaseSync(file);
  try {
    // Wait for other writers instead of failing with SQLITE_BUSY.
    db.exec('PRAGMA busy_timeout = 30000');
    enableWal(db);
    // WAL + NORMAL survives a killed process (only power loss may drop the last commits).
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec('PRAGMA foreign_keys = ON');
    migrate(db, root);
    cacheStatements(db);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** Distinct SQL texts kept prepared; past this, statements are prepared per call again. */
const MAX_CACHED_STATEMENTS = 256;

/**
 * Prepare each SQL text once: preparing costs 10–30 µs a call here, and a small rebuild
 * prepares about a hundred. No caller iterates a statement or changes its settings, and
 * every call runs to its end synchronously, so one statement serves every call.
 */
function cacheStatements(db: DatabaseSync): void {
  const prepare = db.prepare.bind(db);
  const statements = new Map<string, StatementSync>();
  db.prepare = (sql: string): StatementSync => {
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = prepare(sql);
      if (statements.size < MAX_CACHED_STATEMENTS) statements.set(sql, statement);
    }
    return statement;
  };
}

const SQLITE_BUSY = 5;

/**
 * Switch to WAL. Switching needs a lock that SQLite may refuse at once with SQLITE_BUSY,
 * without waiting for the busy timeout, while other processes open, write or close the
 * same store (seen in the store-crash e2e test: "database is locked" at this pragma). So
 * wait and retry here; once WAL is set, the pragma is a no-op.
 */
function enableWal(db: DatabaseSync): void {
  const deadline = Date.now() + 30_000;
  for (let pause = 5; ; pause = Math.min(pause * 2, 200)) {
    try {
      db.exec('PRAGMA journal_mode = WAL');
      return;
    } catch (error) {
      const busy = ((error as { errcode?: number }).errcode ?? 0) % 256 === SQLITE_BUSY;
      if (!busy || Date.now() > deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause);
    }
  }
}

function migrate(db: DatabaseSync, root: string): void {
  const current = readVersion(db);
  if (current === migrations.length) return;
  withTransaction(db, () => {
    const version = readVersion(db); // re-read under the write lock: another process may have won
    if (version > migrations.length) throw new StoreVersionError(root, version, migrations.length);
    for (let v = version; v < migrations.length; v++) db.exec(migrations[v]!);
    db.exec(`PRAGMA user_version = ${migrations.length}`);
  });
}

function readVersion(db: DatabaseSync): number {
  const row = db.prepare('PRAGMA user_version').get() as { user_version: number };
  return row.user_version;
}

/**
 * Run `fn` in a write transaction (BEGIN IMMEDIATE takes the write lock up front, so a
 * read-then-write inside cannot deadlock against another process). Nested calls join
 * the outer transaction.
 */
export function withTransaction<T>(db: DatabaseSync, fn: () => T): T {
  if (db.isTransaction) return fn();
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    // SQLite rolls back by itself on some errors (SQLITE_FULL): do not mask the error.
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}
