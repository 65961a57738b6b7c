/**
 * Opening the SQLite engine's file: the lock beside it (one server per file), WAL
 * settings, migrations, the boot check, prepared statements, the outbox. All or
 * nothing: a failure releases what was taken and throws.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import { checkBoot } from './boot.js';
import { lockDatabase, type DatabaseLock } from './lock.js';
import { openDatabase } from './native.js';
import { SqliteOutbox } from './outbox.js';
import { configure, migrate } from './schema.js';
import { prepareStatements, type Statements } from './statements.js';

export interface OpenFile {
  db: Database.Database;
  st: Statements;
  tx: <T>(fn: () => T) => T;
  lock: DatabaseLock;
  box: SqliteOutbox;
  /** An unclean shutdown on an earlier boot was found: every channel got a new epoch. */
  epochsRotated: boolean;
}

export function openFile(path: string, busyTimeoutMs: number, bootId: string | null): OpenFile {
  let db: Database.Database | undefined;
  let lock: DatabaseLock | undefined;
  try {
    if (path !== ':memory:' && path !== '') mkdirSync(dirname(path), { recursive: true });
    lock = lockDatabase(path);
    db = openDatabase(path);
    configure(db, busyTimeoutMs);
    migrate(db);
    const epochsRotated = checkBoot(db, bootId).rotated;
    const st = prepareStatements(db);
    const runTx = db.transaction((fn: () => unknown) => fn());
    const tx = <T>(fn: () => T): T => runTx.immediate(fn) as T;
    return { db, st, tx, lock, box: new SqliteOutbox(db), epochsRotated };
  } catch (err) {
    try {
      db?.close();
      lock?.release();
    } catch {
      // Already failing: the open error is the one worth reporting.
    }
    throw err;
  }
}
