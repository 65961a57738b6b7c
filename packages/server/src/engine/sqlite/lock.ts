/**
 * One server per database file. The engine opens its database with SQLite's
 * `locking_mode = EXCLUSIVE` and takes the write lock at once: SQLite then keeps an
 * exclusive lock on the file (a POSIX advisory lock, held by the kernel for the
 * process) until the connection closes. A second server on the same file gets
 * SQLITE_BUSY at its first access and refuses to start with one line naming the
 * holder, read from the pid file the holder wrote beside the database (`<db>.pid`).
 *
 * The lock is the kernel's, not the file's: a server killed with SIGKILL loses it
 * with its process, so a stale pid file never blocks a restart (it is only the name
 * of the holder, overwritten by the next one). With WAL in exclusive mode SQLite
 * keeps its WAL index in the process's memory (no `-shm` file), so no other process,
 * not even a read-only `sqlite3` shell, can open the file while the server runs.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type Database from 'better-sqlite3';

/** Another process holds the database. */
export class DatabaseLockedError extends Error {
  constructor(
    readonly path: string,
    readonly holder: number | null,
  ) {
    super(
      `the database ${path} is locked by another taskwire server (${holder === null ? 'its pid is unknown' : `pid ${holder}`}); stop it, or give this server another --db`,
    );
    this.name = 'DatabaseLockedError';
  }
}

const pidFile = (path: string): string => `${path}.pid`;

/** A file database (not `:memory:` or a temporary one) has a pid file. */
const isFile = (path: string): boolean => path !== ':memory:' && path !== '';

function holderOf(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(pidFile(path), 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Take the database for this process before anything else reads it: exclusive
 * locking, no busy wait (a held lock is an answer, not a delay), the write lock now.
 * Throws DatabaseLockedError when another process has it.
 */
export function lockDatabase(db: Database.Database, path: string): void {
  db.exec('pragma locking_mode = EXCLUSIVE; pragma busy_timeout = 0');
  try {
    db.exec('begin immediate; commit');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) throw new DatabaseLockedError(path, holderOf(path));
    throw err;
  }
}

/** Name this process as the holder (once the database is ready). */
export function writePidFile(path: string): void {
  if (isFile(path)) writeFileSync(pidFile(path), `${process.pid}\n`);
}

/** Remove the pid file at close, if it still names this process. */
export function removePidFile(path: string): void {
  if (isFile(path) && holderOf(path) === process.pid) rmSync(pidFile(path), { force: true });
}
