/**
 * The SQLite engine's schema: numbered migrations, applied in one transaction and
 * recorded in `PRAGMA user_version`. A database written by a newer taskwire (a
 * higher user_version than the last migration here) is refused, never guessed at.
 *
 * Rules for a new migration: append a step with the next number, never edit a
 * released one; each step must leave the schema usable by this code.
 */
import type Database from 'better-sqlite3';
import { pragmaReader } from './native.js';

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'tasks, channels, events, idempotency keys, claims, meta',
    sql: `
      create table tasks (
        id text primary key,
        owner text not null,
        status text not null,
        created_at text not null,
        version integer not null,
        stall_at integer,
        snapshot text not null
      ) strict;
      create index tasks_by_created on tasks (created_at desc, id desc);
      create index tasks_by_owner on tasks (owner, created_at desc, id desc);
      create index tasks_by_status on tasks (status, created_at desc, id desc);
      create index tasks_by_owner_status on tasks (owner, status, created_at desc, id desc);
      create index tasks_by_stall on tasks (stall_at, id) where stall_at is not null;

      create table channels (
        name text primary key,
        epoch text not null,
        top integer not null,
        touched_at integer not null
      ) strict, without rowid;
      create index channels_by_touched on channels (touched_at, name);

      create table events (
        channel text not null,
        offset integer not null,
        time integer not null,
        data text not null,
        primary key (channel, offset)
      ) strict, without rowid;
      create index events_by_time on events (time);

      create table idempotency (
        key text primary key,
        value text not null,
        expires_at integer not null
      ) strict, without rowid;
      create index idempotency_by_expiry on idempotency (expires_at);

      create table claims (
        key text primary key,
        expires_at integer not null
      ) strict, without rowid;
      create index claims_by_expiry on claims (expires_at);

      -- boot_id and clean_shutdown: see sqlite-boot.ts
      create table meta (
        key text primary key,
        value text not null
      ) strict, without rowid;
    `,
  },
  {
    version: 2,
    description: 'batches and tags: tasks.parent, task_tags',
    sql: `
      alter table tasks add column parent text;
      create index tasks_by_parent on tasks (parent, created_at desc, id desc) where parent is not null;
      create table task_tags (
        tag text not null,
        task text not null,
        created_at text not null,
        primary key (tag, created_at, task)
      ) strict, without rowid;
      create index task_tags_by_task on task_tags (task);
    `,
  },
  {
    version: 3,
    description: 'task streams: tasks.streams (the summary, laid over the snapshot when read), stream_chunks',
    sql: `
      alter table tasks add column streams text;
      create table stream_chunks (
        task text not null,
        stream text not null,
        idx integer not null,
        text text not null,
        primary key (task, stream, idx)
      ) strict, without rowid;
    `,
  },
  {
    version: 4,
    description: 'retention: tasks.finished_at (ms, indexed for top-level tasks), tasks.create_key',
    sql: `
      alter table tasks add column finished_at integer;
      alter table tasks add column create_key text;
      update tasks set finished_at =
        cast(round((julianday(json_extract(snapshot, '$.finishedAt')) - 2440587.5) * 86400000) as integer)
        where status in ('succeeded', 'failed', 'cancelled') and json_extract(snapshot, '$.finishedAt') is not null;
      update tasks set create_key = idempotency.key from idempotency
        where idempotency.value = tasks.id and substr(idempotency.key, 1, 2) = 'c' || char(10);
      create index tasks_by_expiry on tasks (finished_at, id) where parent is null and finished_at is not null;
    `,
  },
  {
    version: 5,
    description: 'the webhook outbox: webhooks',
    sql: `
      create table webhooks (
        seq integer primary key,
        id text not null unique,
        endpoint text not null,
        task text not null,
        type text not null,
        body text not null,
        created_at integer not null,
        status text not null,
        next_at integer not null,
        lease_owner text,
        lease_until integer not null default 0,
        attempts text not null default '[]'
      ) strict;
      create index webhooks_queue on webhooks (endpoint, task, seq) where status = 'pending';
      create index webhooks_due on webhooks (next_at, seq) where status = 'pending';
      create index webhooks_by_status on webhooks (status, seq);
      create index webhooks_settled on webhooks (status, next_at) where status <> 'pending';
    `,
  },
];

/** The schema version this code writes: the number of the last migration. */
export const SCHEMA_VERSION: number = MIGRATIONS.at(-1)?.version ?? 0;

/** The database was written by a newer taskwire (or is not a taskwire database we understand). */
export class SchemaVersionError extends Error {
  constructor(
    readonly found: number,
    readonly supported: number,
  ) {
    super(`database schema version ${found} is newer than this taskwire (max ${supported}); upgrade taskwire`);
    this.name = 'SchemaVersionError';
  }
}

/** Connection settings: WAL (readers never block the writer), NORMAL sync (durable at checkpoints), a busy wait. */
export function configure(db: Database.Database, busyTimeoutMs: number): void {
  db.exec(`
    -- Takes effect on a new file only (before its first table): pages freed by deletions
    -- go back to the OS a few at a time (the sweep's incremental_vacuum); on an older
    -- file they are reused.
    pragma auto_vacuum = INCREMENTAL;
    pragma busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))};
    pragma journal_mode = WAL;
    pragma synchronous = NORMAL;
    -- Bytes of WAL kept after a checkpoint, so a burst does not leave a large file behind.
    pragma journal_size_limit = 67108864;
  `);
}

/**
 * Bring the schema to SCHEMA_VERSION. The version is re-read inside an immediate
 * (write-locked) transaction, so two processes opening one file migrate it once.
 * Returns the versions before and after.
 */
export function migrate(
  db: Database.Database,
  migrations: readonly Migration[] = MIGRATIONS,
): { from: number; to: number } {
  const latest = migrations.at(-1)?.version ?? 0;
  const read = pragmaReader(db, 'user_version');
  const userVersion = (): number => Number(read());
  const check = (found: number): void => {
    if (found > latest) throw new SchemaVersionError(found, latest);
  };
  const before = userVersion();
  check(before);
  if (before === latest) return { from: before, to: before };
  const apply = db.transaction(() => {
    const from = userVersion();
    check(from);
    for (const step of migrations) {
      if (step.version <= from) continue;
      db.exec(step.sql);
      db.exec(`pragma user_version = ${step.version}`);
    }
    return from;
  });
  const from = apply.immediate();
  return { from, to: latest };
}
