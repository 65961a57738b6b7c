/**
 * One server per database file. Beside the database the engine keeps a lock file,
 * `<db>.lock`: a tiny SQLite database that it opens with `locking_mode = EXCLUSIVE`
 * and writes at once, so SQLite holds an exclusive lock on it (a POSIX advisory lock,
 * the kernel's, for the process) until the engine closes. A second server on the same
 * database gets SQLITE_BUSY on the lock file and refuses to start, with one line
 * naming the holder, read from `<db>.pid` (written by the holder once it has the lock).
 *
 * The lock is the kernel's, not the file's: a server killed with SIGKILL loses it with
 * its process, so a lock or pid file left behind never blocks a restart (the pid file
 * is only the holder's name, overwritten by the next one). The database itself stays
 * an ordinary WAL database: the `sqlite3` shell can still read it and back it up.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { openDatabase } from './native.js';

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

function holderOf(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(pidFile(path), 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** The held lock of one database file; release() at close. */
export interface DatabaseLock {
  release(): void;
}

/**
 * Take the database for this process before it is opened (`:memory:` and temporary
 * databases need no lock). Throws DatabaseLockedError when another process has it.
 */
export function lockDatabase(path: string): DatabaseLock {
  if (path === ':memory:' || path === '') return { release: () => undefined };
  let lock: Database.Database | undefined;
  try {
    lock = openDatabase(`${path}.lock`);
    lock.exec('pragma busy_timeout = 0; pragma locking_mode = EXCLUSIVE');
    lock.exec('create table if not exists holder (pid integer); begin immediate; delete from holder');
    lock.prepare('insert into holder (pid) values (?)').run(process.pid);
    lock.exec('commit');
  } catch (err) {
    lock?.close();
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) throw new DatabaseLockedError(path, holderOf(path));
    throw err;
  }
  writeFileSync(pidFile(path), `${process.pid}\n`);
  const held = lock;
  return {
    release() {
      if (holderOf(path) === process.pid) rmSync(pidFile(path), { force: true });
      held.close();
    },
  };
}
