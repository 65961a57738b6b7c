/**
 * The SQLite engine: the embedded, durable default. One database file is one node:
 * tasks, channel logs (epochs and offsets included), idempotency keys, claims and
 * stall deadlines all survive a restart, so clients recover across it with
 * `recovered: true`. Fan-out is in-process (`LocalFanout`): committed events reach
 * this process's listeners, so the file is for one process (lock.ts): a second server
 * on it refuses to start.
 *
 * better-sqlite3 is synchronous, so every method does its work in one go (one
 * immediate transaction for writes) and reports a throw (SQLITE_BUSY, disk full) as
 * a rejected promise. Retention trims the channel written on every write; a
 * periodic, batched sweep removes what expired elsewhere (see sqlite-sweep.ts).
 */
import { MAX_CHILDREN, TaskwireError, withTaskDefaults, type Task } from '@taskwire/protocol';
import { TUNING } from '../../config/options.js';
import { resolveEngineLimits } from '../limits.js';
import { LocalFanout } from '../local-fanout.js';
import { publishEvent, readHistory } from './channels.js';
import { appendChunk, commitTasks, createKey } from './commit.js';
import { outboxPort } from '../outbox-port.js';
import { deleteTrees, expiredPage } from './delete-tree.js';
import { storageFailure } from './native.js';
import { openFile, type OpenFile } from './open-file.js';
import { currentBootId, markClean } from './boot.js';
import { toCount, toMs } from './statements.js';
import { sweep, type SweepResult } from './sweep.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import {
  type CommitRequest,
  type CommitResult,
  type DeleteTreeRequest,
  type DeleteTreeResult,
  type Engine,
  type EngineLimits,
  type EventListener,
  type ExpiredRequest,
  type ExpiredTask,
  type HistoryRequest,
  type HistoryResult,
  type ListTasksRequest,
  type ListTasksResult,
  type Outbox,
  type PublishRequest,
  type PublishResult,
  type StreamAppendRequest,
  type StreamAppendResult,
  type StreamText,
  type SyncTaskStore,
  type Unsubscribe,
} from '../types.js';

export type { SweepResult };

export interface SqliteEngineOptions {
  /** The database file; created (with its directory) when missing. */
  path: string;
  limits?: Partial<EngineLimits>;
  /** Clock, ms since the Unix epoch (tests). */
  now?: () => number;
  /** Called when a listener throws; the error never reaches the committer. Default: console.error. */
  onListenerError?: (err: unknown, channel: string) => void;
  /** Called when a background sweep fails (it is retried at the next interval). Default: console.error. */
  onError?: (err: unknown) => void;
  /** Time between retention sweeps, ms (default `TUNING.sqliteSweepIntervalMs`). */
  sweepIntervalMs?: number;
  /** Rows deleted per sweep statement before yielding to the event loop (default `TUNING.sqliteSweepBatch`). */
  sweepBatch?: number;
  /** How long a write waits for a lock held by another connection before failing with SQLITE_BUSY, ms (default `TUNING.sqliteBusyTimeoutMs`). */
  busyTimeoutMs?: number;
  /** The machine's boot id (tests); default: read from the kernel. See sqlite-boot.ts. */
  bootId?: string | null;
}

/** Row counts, for tests of boundedness. */
export interface SqliteSizes {
  tasks: number;
  channels: number;
  events: number;
  idempotencyKeys: number;
  claims: number;
}

type State = { name: 'idle' } | ({ name: 'open'; timer: NodeJS.Timeout } & OpenFile) | { name: 'closed' };
type Open = Extract<State, { name: 'open' }>;

/** A stored snapshot, with the defaults of fields added since it was written. */
const parseTask = (text: string): Task => withTaskDefaults(JSON.parse(text) as Task);

export class SqliteEngine implements Engine {
  readonly kind = 'sqlite' as const;
  readonly limits: EngineLimits;
  readonly path: string;
  private readonly now: () => number;
  private readonly onError: (err: unknown) => void;
  private readonly sweepIntervalMs: number;
  private readonly sweepBatch: number;
  private readonly busyTimeoutMs: number;
  private readonly bootId: string | null;
  /** True when start() found an unclean shutdown on an earlier boot and gave every channel a new epoch. */
  epochsRotated = false;
  private readonly fanout: LocalFanout;
  private state: State = { name: 'idle' };
  private sweeping: Promise<SweepResult> | null = null;

  constructor(opts: SqliteEngineOptions) {
    this.limits = resolveEngineLimits(opts.limits);
    this.path = opts.path;
    const clock = opts.now ?? Date.now;
    this.now = () => toMs(clock());
    this.sweepIntervalMs = opts.sweepIntervalMs ?? TUNING.sqliteSweepIntervalMs;
    if (!(this.sweepIntervalMs > 0)) throw new RangeError('sweepIntervalMs must be a positive number');
    this.sweepBatch = Math.max(1, Math.floor(opts.sweepBatch ?? TUNING.sqliteSweepBatch));
    this.busyTimeoutMs = opts.busyTimeoutMs ?? TUNING.sqliteBusyTimeoutMs;
    this.bootId = opts.bootId === undefined ? currentBootId() : opts.bootId;
    this.onError = opts.onError ?? ((err) => console.error('taskwire: the SQLite retention sweep failed', err));
    this.fanout = new LocalFanout(
      opts.onListenerError ??
        ((err, channel) => console.error(`taskwire: an engine listener on ${channel} threw`, err)),
    );
  }

  /** Open the file, apply WAL settings and migrations, prepare statements, start the sweep. Idempotent. */
  start(): Promise<void> {
    if (this.state.name === 'open') return Promise.resolve();
    if (this.state.name === 'closed') return Promise.reject(new TaskwireError('unavailable', 'the engine is closed'));
    try {
      const file = openFile(this.path, this.busyTimeoutMs, this.bootId);
      this.epochsRotated = file.epochsRotated;
      const timer = setInterval(() => this.backgroundSweep(), this.sweepIntervalMs);
      timer.unref();
      this.state = { name: 'open', timer, ...file };
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  readonly sync: SyncTaskStore = {
    getTask: (id) => this.guard(() => this.getTaskNow(id, this.open())),
    commit: (req) => this.guard(() => this.commitNow([req], this.open())),
    commitAll: (reqs) => this.guard(() => this.commitNow(reqs, this.open())),
    children: (parentId) => this.guard(() => this.childrenNow(parentId, this.open())),
    appendStream: (req) => this.guard(() => this.appendNow(req, this.open())),
    publish: (req) => this.guard(() => this.publishNow(req, this.open())),
  };

  readonly outbox: Outbox = outboxPort((fn) => this.run(({ box }) => fn(box)));

  getTask(id: string): Promise<Task | null> {
    return this.run((open) => this.getTaskNow(id, open));
  }

  private getTaskNow(id: string, { st }: Open): Task | null {
    const row = st.getTask.get(id);
    return row ? parseTask(row.snapshot) : null;
  }

  listTasks(req: ListTasksRequest): Promise<ListTasksResult> {
    return this.run(({ st }) => {
      const limit = Math.max(1, toCount(req.limit));
      const after = req.cursor === undefined ? undefined : decodeCursor(req.cursor);
      const rows = st.list({
        ...(req.owner !== undefined ? { owner: req.owner } : {}),
        ...(req.status !== undefined ? { status: req.status } : {}),
        ...(req.parent !== undefined ? { parent: req.parent } : {}),
        ...(req.tag !== undefined ? { tag: req.tag } : {}),
        ...(after ? { cursorCreatedAt: after[0], cursorId: after[1] } : {}),
        // One row past a full page tells whether there is a next page.
        limit: limit + 1,
      });
      const tasks = rows.slice(0, limit).map(parseTask);
      const last = tasks.at(-1);
      const nextCursor = rows.length > limit && last ? encodeCursor([last.createdAt, last.id]) : null;
      return { tasks, nextCursor };
    });
  }

  commit(req: CommitRequest): Promise<CommitResult> {
    return this.run((open) => this.commitNow([req], open));
  }

  private commitNow(reqs: readonly CommitRequest[], { st, tx, box }: Open): CommitResult {
    const result = commitTasks(st, tx, this.limits, reqs, this.now(), parseTask, box);
    // Delivered only once committed: a rolled-back write never reaches a listener.
    if (result.ok) this.fanout.deliver(result.events);
    return result;
  }

  children(parentId: string): Promise<Task[]> {
    return this.run((open) => this.childrenNow(parentId, open));
  }

  private childrenNow(parentId: string, { st }: Open): Task[] {
    return st.children.all(parentId, MAX_CHILDREN).map(parseTask);
  }

  appendStream(req: StreamAppendRequest): Promise<StreamAppendResult> {
    return this.run((open) => this.appendNow(req, open));
  }

  private appendNow(req: StreamAppendRequest, { st, tx }: Open): StreamAppendResult {
    const result = appendChunk(st, tx, this.limits, req, this.now(), parseTask);
    if (result.ok) this.fanout.deliver([result.event]);
    return result;
  }

  readStream(taskId: string, stream: string): Promise<StreamText> {
    return this.run(({ st }) => {
      const chunks = st.streamChunks.all(taskId, stream);
      return { text: chunks.join(''), chunks: chunks.length };
    });
  }

  lookupIdempotency(key: string): Promise<string | null> {
    return this.run(({ st }) => st.getKey.get(createKey(key), this.now()) ?? null);
  }

  publish(req: PublishRequest): Promise<PublishResult> {
    return this.run((open) => this.publishNow(req, open));
  }

  private publishNow(req: PublishRequest, { st, tx }: Open): PublishResult {
    const now = this.now();
    const result = tx(() => publishEvent(st, this.limits, req, now));
    // Delivered only once committed, and only when something was appended.
    if (!result.duplicate) this.fanout.deliver([result.event]);
    return result;
  }

  history(channel: string, req: HistoryRequest): Promise<HistoryResult> {
    return this.run(({ st }) => readHistory(st, this.limits, channel, req, this.now()));
  }

  dueStalls(now: number, limit: number): Promise<Task[]> {
    return this.run(({ st }) => {
      const max = toCount(limit);
      return max === 0 ? [] : st.dueStalls.all(now, max).map(parseTask);
    });
  }

  expired(req: ExpiredRequest): Promise<ExpiredTask[]> {
    return this.run(({ st }) => expiredPage(st, req));
  }

  deleteTrees(reqs: readonly DeleteTreeRequest[]): Promise<DeleteTreeResult[]> {
    return this.run(({ st, tx }) => {
      const { results, events } = deleteTrees(st, tx, this.limits, reqs, this.now(), parseTask);
      this.fanout.deliver(events); // only once committed
      return results;
    });
  }

  claim(key: string, ttlMs: number): Promise<boolean> {
    return this.run(({ st }) => {
      const now = this.now();
      // Inserts a new key, or takes over an expired one; a live key is left alone (0 changes).
      return st.claim.run(key, toMs(now + ttlMs), now).changes === 1;
    });
  }

  subscribe(channel: string, listener: EventListener): Promise<Unsubscribe> {
    return this.run(() => this.fanout.subscribe(channel, listener));
  }

  /** A read and a small write (readiness means writes work: a full disk fails it). */
  ping(): Promise<void> {
    return this.run(({ st, tx }) => {
      if (st.ping.get() !== 1) throw new Error('SQLite ping returned an unexpected value');
      tx(() => st.pingWrite.run(String(this.now())));
    });
  }

  stats(): { subscriptions: number } {
    return { subscriptions: this.fanout.size };
  }

  /** Row counts of each table (tests of boundedness; a full count, so not for hot paths). */
  internalSizes(): SqliteSizes {
    const { st } = this.open();
    return {
      tasks: st.count('tasks'),
      channels: st.count('channels'),
      events: st.count('events'),
      idempotencyKeys: st.count('idempotency'),
      claims: st.count('claims'),
    };
  }

  /**
   * Delete expired events, idempotency keys and claims and forget idle empty
   * channels, in bounded batches. Runs every `sweepIntervalMs`; callable directly.
   * A sweep already running is joined, not doubled.
   */
  sweep(): Promise<SweepResult> {
    if (this.sweeping) return this.sweeping;
    let open: Open;
    try {
      open = this.open();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const running = sweep({
      st: open.st,
      limits: this.limits,
      now: this.now,
      batch: this.sweepBatch,
      isOpen: () => this.state === open,
      isListened: (channel) => this.fanout.has(channel),
      transaction: (fn) => open.tx(fn),
    }).finally(() => {
      this.sweeping = null;
    });
    this.sweeping = running;
    return running;
  }

  close(): Promise<void> {
    const state = this.state;
    this.state = { name: 'closed' };
    if (state.name !== 'open') return Promise.resolve();
    clearInterval(state.timer);
    this.fanout.clear();
    try {
      markClean(state.db);
      state.db.close();
      state.lock.release();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private backgroundSweep(): void {
    if (this.state.name !== 'open' || this.sweeping) return;
    this.sweep().catch((err: unknown) => {
      if (this.state.name === 'open') this.onError(err);
    });
  }

  private open(): Open {
    if (this.state.name === 'open') return this.state;
    throw new TaskwireError(
      'unavailable',
      this.state.name === 'closed' ? 'the engine is closed' : 'the engine is not started',
    );
  }

  /** Run synchronously against the open database, reporting a throw as a rejected promise. */
  private run<T>(fn: (open: Open) => T): Promise<T> {
    try {
      return Promise.resolve(fn(this.open()));
    } catch (err) {
      return Promise.reject(asEngineError(err));
    }
  }

  /** Run synchronously, a storage failure thrown as `unavailable` (the synchronous task store). */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw asEngineError(err);
    }
  }
}

/** A storage failure as `unavailable` (its cause kept); anything else as it is. */
function asEngineError(err: unknown): Error {
  const storage = storageFailure(err);
  if (storage !== null) return new TaskwireError('unavailable', storage, { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

export function createSqliteEngine(opts: SqliteEngineOptions): SqliteEngine {
  return new SqliteEngine(opts);
}
