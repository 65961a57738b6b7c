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
