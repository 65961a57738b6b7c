/**
 * Every SQL statement of the SQLite engine, prepared once per connection. The list
 * query has a few shapes (owner, status and cursor filters, each optional); each
 * shape is prepared the first time it is used and then reused.
 */
import type Database from 'better-sqlite3';

export interface TaskRow {
  version: number;
  snapshot: string;
}

export interface ChannelRow {
  epoch: string;
  top: number;
}

export interface EventRow {
  offset: number;
  time: number;
  data: string;
}

export interface TaskColumns {
  id: string;
  owner: string;
  parent: string | null;
  status: string;
  createdAt: string;
  version: number;
  stallAt: number | null;
  /** When the task ended (ms), or null (retention). */
  finishedAt: number | null;
  snapshot: string;
}

/** One task of a tree being deleted. */
export interface TreeRow {
  id: string;
  depth: number;
  createKey: string | null;
  snapshot: string;
}

export interface ListParams {
  owner?: string;
  status?: string;
  parent?: string;
  tag?: string;
  cursorCreatedAt?: string;
  cursorId?: string;
  limit: number;
}

/** A count from a caller as SQLite binds it: a whole number from 0 to MAX_SAFE_INTEGER (NaN → 0). */
export const toCount = (n: number): number => (n > 0 ? Math.floor(Math.min(n, Number.MAX_SAFE_INTEGER)) : 0);

/** Times are stored as whole milliseconds (the columns are STRICT integers). */
export const toMs = (n: number): number =>
  Math.floor(Math.min(Math.max(n, -Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER));

type Stmt<P extends unknown[], R = unknown> = Database.Statement<P, R>;

/**
 * A task's snapshot as read: the stored one, with the streams summary (`tasks.streams`,
 * written by stream appends only) laid over it, so a commit never takes a chunk back.
 */
const SNAPSHOT = "case when streams is null then snapshot else json_set(snapshot, '$.streams', json(streams)) end";

export interface Statements {
  ping: Stmt<[], number>;
  /** The write half of ping(): one row of `meta`. */
  pingWrite: Stmt<[value: string]>;
  getTask: Stmt<[id: string], TaskRow>;
  insertTask: Stmt<[TaskColumns]>;
  updateTask: Stmt<[TaskColumns & { expected: number }]>;
  dueStalls: Stmt<[now: number, limit: number], string>;
  children: Stmt<[parent: string, limit: number], string>;
  insertChunk: Stmt<[task: string, stream: string, idx: number, text: string]>;
  streamChunks: Stmt<[task: string, stream: string], string>;
  /** A task's streams summary and stall deadline, without a version change. */
  setStreams: Stmt<[streams: string, stallAt: number | null, id: string]>;
  insertTag: Stmt<[tag: string, task: string, createdAt: string]>;
  /** Remember a task's create idempotency key (deleted with the task). */
  setCreateKey: Stmt<[key: string, id: string]>;

  /** Top-level tasks that ended at or before `before`, after the cursor, in (finished_at, id) order. */
  expired: Stmt<
    [{ before: number; afterAt: number; afterId: string; limit: number }],
    { id: string; finishedAt: number }
  >;
  /** A task and its descendants, at most `maxDepth` levels below it. */
  tree: Stmt<[{ id: string; maxDepth: number }], TreeRow>;
  deleteTask: Stmt<[id: string]>;
  deleteTags: Stmt<[task: string]>;
  deleteChunks: Stmt<[task: string]>;
  deleteEvents: Stmt<[channel: string]>;
  deleteChannel: Stmt<[name: string]>;
  deleteKey: Stmt<[key: string]>;

  getChannel: Stmt<[name: string], ChannelRow>;
  insertChannel: Stmt<[name: string, epoch: string, now: number]>;
  setChannelTop: Stmt<[top: number, now: number, name: string]>;
  insertEvent: Stmt<[channel: string, offset: number, time: number, data: string]>;
  /** The first event above `after` newer than `cutoff` (offset only). */
  firstLive: Stmt<[channel: string, after: number, cutoff: number], number>;
  trimThrough: Stmt<[channel: string, through: number]>;
  eventsFrom: Stmt<[channel: string, from: number, limit: number], EventRow>;

  getKey: Stmt<[key: string, now: number], string>;
  putKey: Stmt<[key: string, value: string, expiresAt: number]>;
  claim: Stmt<[key: string, expiresAt: number, now: number]>;

  sweepEvents: Stmt<[cutoff: number, batch: number]>;
  sweepKeys: Stmt<[now: number, batch: number]>;
  sweepClaims: Stmt<[now: number, batch: number]>;
  idleChannels: Stmt<
    [cutoff: number, afterTouched: number, afterName: string, batch: number],
    { name: string; touchedAt: number }
  >;
  forgetChannel: Stmt<[{ name: string; cutoff: number }]>;
  /** Give up to 1000 free pages back to the OS (a no-op without auto_vacuum = INCREMENTAL). */
  vacuum: Stmt<[]>;

  count: (table: 'tasks' | 'channels' | 'events' | 'idempotency' | 'claims') => number;
  list: (params: ListParams) => string[];
}

export function prepareStatements(db: Database.Database): Statements {
  const listCache = new Map<string, Stmt<[Record<string, string | number>], string>>();
  const counts = new Map<string, Stmt<[], number>>();
  const statements: Statements = {
    ping: db.prepare<[], number>('select 1').pluck(),
    pingWrite: db.prepare<[string]>(
      "insert into meta (key, value) values ('ping', ?) on conflict (key) do update set value = excluded.value",
    ),
    getTask: db.prepare<[string], TaskRow>(`select version, ${SNAPSHOT} as snapshot from tasks where id = ?`),
    insertTask: db.prepare<[TaskColumns]>(
      `insert into tasks (id, owner, parent, status, created_at, version, stall_at, finished_at, snapshot)
       values (@id, @owner, @parent, @status, @createdAt, @version, @stallAt, @finishedAt, @snapshot)`,
    ),
    updateTask: db.prepare<[TaskColumns & { expected: number }]>(
      `update tasks set owner = @owner, status = @status, created_at = @createdAt, version = @version,
         stall_at = @stallAt, finished_at = @finishedAt, snapshot = @snapshot
       where id = @id and version = @expected`,
    ),
    setCreateKey: db.prepare<[string, string]>('update tasks set create_key = ? where id = ?'),
    expired: db.prepare<
      [{ before: number; afterAt: number; afterId: string; limit: number }],
      { id: string; finishedAt: number }
    >(
      `select id, finished_at as finishedAt from tasks
       where parent is null and finished_at is not null and finished_at <= @before
         and (finished_at, id) > (@afterAt, @afterId)
       order by finished_at, id limit @limit`,
    ),
    tree: db.prepare<[{ id: string; maxDepth: number }], TreeRow>(
      `with recursive tree (id, depth) as (
         select @id, 0
         union all
         select tasks.id, tree.depth + 1 from tasks join tree on tasks.parent = tree.id where tree.depth < @maxDepth
       )
       select tasks.id as id, tree.depth as depth, create_key as createKey, ${SNAPSHOT} as snapshot
       from tree join tasks on tasks.id = tree.id`,
    ),
    deleteTask: db.prepare<[string]>('delete from tasks where id = ?'),
    deleteTags: db.prepare<[string]>('delete from task_tags where task = ?'),
    deleteChunks: db.prepare<[string]>('delete from stream_chunks where task = ?'),
    deleteEvents: db.prepare<[string]>('delete from events where channel = ?'),
    deleteChannel: db.prepare<[string]>('delete from channels where name = ?'),
    deleteKey: db.prepare<[string]>('delete from idempotency where key = ?'),
    children: db.prepare<[string, number], string>(`select ${SNAPSHOT} from tasks where parent = ? limit ?`).pluck(),
    insertChunk: db.prepare<[string, string, number, string]>(
      'insert into stream_chunks (task, stream, idx, text) values (?, ?, ?, ?)',
    ),
    streamChunks: db
      .prepare<[string, string], string>('select text from stream_chunks where task = ? and stream = ? order by idx')
      .pluck(),
    setStreams: db.prepare<[string, number | null, string]>('update tasks set streams = ?, stall_at = ? where id = ?'),
    insertTag: db.prepare<[string, string, string]>(
      'insert into task_tags (tag, task, created_at) values (?, ?, ?) on conflict do nothing',
    ),
    dueStalls: db
      .prepare<[number, number], string>(
        `select ${SNAPSHOT} from tasks where stall_at is not null and stall_at <= ? order by stall_at, id limit ?`,
      )
      .pluck(),

    getChannel: db.prepare<[string], ChannelRow>('select epoch, top from channels where name = ?'),
    insertChannel: db.prepare<[string, string, number]>(
      'insert into channels (name, epoch, top, touched_at) values (?, ?, 0, ?) on conflict (name) do nothing',
    ),
    setChannelTop: db.prepare<[number, number, string]>('update channels set top = ?, touched_at = ? where name = ?'),
    insertEvent: db.prepare<[string, number, number, string]>(
      'insert into events (channel, offset, time, data) values (?, ?, ?, ?)',
    ),
    firstLive: db
      .prepare<[string, number, number], number>(
        'select offset from events where channel = ? and offset > ? and time > ? order by offset limit 1',
      )
      .pluck(),
    trimThrough: db.prepare<[string, number]>('delete from events where channel = ? and offset <= ?'),
    eventsFrom: db.prepare<[string, number, number], EventRow>(
      'select offset, time, data from events where channel = ? and offset >= ? order by offset limit ?',
    ),

    getKey: db
      .prepare<[string, number], string>('select value from idempotency where key = ? and expires_at > ?')
      .pluck(),
    putKey: db.prepare<[string, string, number]>(
      `insert into idempotency (key, value, expires_at) values (?, ?, ?)
       on conflict (key) do update set value = excluded.value, expires_at = excluded.expires_at`,
    ),
    claim: db.prepare<[string, number, number]>(
      `insert into claims (key, expires_at) values (?, ?)
       on conflict (key) do update set expires_at = excluded.expires_at where claims.expires_at <= ?`,
    ),

    sweepEvents: db.prepare<[number, number]>(
      `delete from events where (channel, offset) in
         (select channel, offset from events where time <= ? order by time limit ?)`,
    ),
    sweepKeys: db.prepare<[number, number]>(
      `delete from idempotency where key in
         (select key from idempotency where expires_at <= ? order by expires_at limit ?)`,
    ),
    sweepClaims: db.prepare<[number, number]>(
      'delete from claims where key in (select key from claims where expires_at <= ? order by expires_at limit ?)',
    ),
    idleChannels: db.prepare<[number, number, string, number], { name: string; touchedAt: number }>(
      `select name, touched_at as touchedAt from channels
       where touched_at <= ? and (touched_at, name) > (?, ?)
       order by touched_at, name limit ?`,
    ),
    forgetChannel: db.prepare<[{ name: string; cutoff: number }]>(
      `delete from channels where name = @name and touched_at <= @cutoff
         and not exists (select 1 from events where channel = @name)`,
    ),

    vacuum: db.prepare<[]>('pragma incremental_vacuum(1000)'),

    count(table) {
      let stmt = counts.get(table);
      if (!stmt) {
        stmt = db.prepare<[], number>(`select count(*) from ${table}`).pluck();
        counts.set(table, stmt);
      }
      return stmt.get() ?? 0;
    },

    list(params) {
      const where: string[] = [];
      const bind: Record<string, string | number> = { limit: params.limit };
      if (params.owner !== undefined) {
        where.push('owner = @owner');
        bind['owner'] = params.owner;
      }
      if (params.status !== undefined) {
        where.push('status = @status');
        bind['status'] = params.status;
      }
      if (params.parent !== undefined) {
        where.push('parent = @parent');
        bind['parent'] = params.parent;
      }
      if (params.tag !== undefined) {
        where.push('id in (select task from task_tags where tag = @tag)');
        bind['tag'] = params.tag;
      }
      if (params.cursorCreatedAt !== undefined && params.cursorId !== undefined) {
        where.push('(created_at, id) < (@cursorCreatedAt, @cursorId)');
        bind['cursorCreatedAt'] = params.cursorCreatedAt;
        bind['cursorId'] = params.cursorId;
      }
      const shape = where.join(' and ');
      let stmt = listCache.get(shape);
      if (!stmt) {
        stmt = db
          .prepare<[Record<string, string | number>], string>(
            `select ${SNAPSHOT} from tasks ${shape ? `where ${shape}` : ''}
             order by created_at desc, id desc limit @limit`,
          )
          .pluck();
        listCache.set(shape, stmt);
      }
      return stmt.all(bind);
    },
  };
  return statements;
}
