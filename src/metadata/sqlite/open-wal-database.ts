// Opens an SQLite file in WAL mode, safely when other processes open it at the same moment
// (http.workers starting on a new file, `berth gc` beside a starting server).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

const RETRY_PAUSE_MS = 10;

/**
 * Switching a file to WAL needs an exclusive lock. When another connection opening the file holds
 * a shared lock and wants the same, SQLite answers SQLITE_BUSY at once, without waiting in its busy
 * handler (waiting could deadlock), so the switch is retried here until `busyTimeoutMs` has passed.
 * The pause blocks the thread: this runs once, while the process starts, before it serves anything.
 */
export function openWalDatabase(path: string, busyTimeoutMs: number): Database.Database {
  // Its directory is made as the filesystem driver makes its root: with S3 storage and no database,
  // the file's default place (below storage.filesystem.rootdirectory) may not exist yet.
  if (path !== ':memory:' && !path.startsWith('file:')) mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  const deadline = Date.now() + busyTimeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return db;
    } catch (error) {
      if (!(error instanceof Database.SqliteError && error.code === 'SQLITE_BUSY') || Date.now() >= deadline) {
        db.close();
        throw error;
      }
      Atomics.wait(pause, 0, 0, RETRY_PAUSE_MS * (1 + Math.random()));
    }
  }
}
