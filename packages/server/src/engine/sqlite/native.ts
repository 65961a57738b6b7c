/**
 * Opening better-sqlite3 databases. better-sqlite3 13 is built on Node-API; the
 * releases before it derive from `node::ObjectWrap` and abort the process on
 * Node 24.19+ when a statement is garbage-collected
 * (https://github.com/nodejs/node/issues/65446), so package.json requires ^13.
 */
import Database from 'better-sqlite3';

/** Open (or create) a database file. */
export function openDatabase(path: string): Database.Database {
  return new Database(path);
}

/** A prepared reader of one pragma's value. */
export function pragmaReader(db: Database.Database, name: string): () => unknown {
  const stmt = db.prepare<[], unknown>(`pragma ${name}`).pluck();
  return () => stmt.get();
}

/**
 * SQLite result codes that mean the database cannot be written or read right now
 * (disk full, I/O error, read-only file, a lock held too long): the engine answers
 * them as `unavailable`, so HTTP says 503 with Retry-After and /readyz reports it.
 */
const STORAGE_CODES = /^SQLITE_(FULL|IOERR|READONLY|BUSY|LOCKED|CANTOPEN|NOMEM|PROTOCOL)/;

/** A message for a storage failure, or null when `err` is not one. */
export function storageFailure(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !STORAGE_CODES.test(code)) return null;
  if (code.startsWith('SQLITE_FULL')) return 'the database cannot be written: the disk is full';
  if (code.startsWith('SQLITE_READONLY')) return 'the database cannot be written: the file is read-only';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
    return 'the database is locked by another connection; try again';
  return `the database cannot be used (${code})`;
}
