/**
 * The in-process engine: tests and `--engine memory`. Everything lives in this
 * process, so a restart loses it, and every channel gets a new random epoch: a
 * client holding an old position gets `recovered: false` rather than wrong events.
 * Methods do all their work synchronously, which makes each commit atomic.
 *
 * Task snapshots are kept as given and handed to every reader, frozen (freezeDeep):
 * nothing is copied per read or per commit. Channel logs keep each event's JSON text
 * (see channel-log.ts), which the Hub sends as it is.
 */
import { TaskwireError, freezeDeep, type Task } from '@taskwire/protocol';
import { ChannelLog } from './channel-log.js';
import { resolveEngineLimits } from '../limits.js';
import { checkAppend } from '../streams.js';
import { finishedMs } from '../retention.js';
import { deleteTree, type MemoryTables } from './delete-tree.js';
import { ExpiryIndex } from './expiry-index.js';
import { LocalFanout } from '../local-fanout.js';
import { ChannelSweep } from './channel-sweep.js';
import { ExpiringMap } from './expiring-map.js';
import { MemoryOutbox } from './outbox.js';
import { outboxPort } from '../outbox-port.js';
import { StallIndex } from './stall-index.js';
import { TaskList } from './task-list.js';
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
  type StoredEvent,
  type SyncTaskStore,
  type Unsubscribe,
} from '../types.js';

export interface MemoryEngineOptions {
  /** Clock, ms since the Unix epoch (tests). */
  now?: () => number;
  /** Called when a listener throws; the error never reaches the committer. Default: console.error. */
  onListenerError?: (err: unknown, channel: string) => void;
}

/** JSON.stringify(undefined) is undefined: an event of undefined is stored as null, as JSON would. */
const jsonOf = (data: unknown): string => JSON.stringify(data) ?? 'null';

export class MemoryEngine implements Engine {
  readonly kind = 'memory' as const;
  readonly limits: EngineLimits;
  private readonly now: () => number;
  /** In-process delivery (shared with the SQLite engine): see local-fanout.ts. */
  private readonly fanout: LocalFanout;
  private readonly tasks = new Map<string, Task>();
  private readonly order = new TaskList();
  /** Each parent's children. */
  private readonly childIds = new Map<string, Set<string>>();
  /** Each task's streams: name → chunks. */
  private readonly streams = new Map<string, Map<string, string[]>>();
  private readonly channels = new Map<string, ChannelLog>();
  private readonly channelSweep = new ChannelSweep();
  private readonly stalls = new StallIndex();
  private readonly createKeys = new ExpiringMap<string>();
  private readonly publishKeys = new ExpiringMap<StoredEvent>();
  private readonly claims = new ExpiringMap<true>();
  /** Retention: top-level tasks that ended, and each task's create key (see delete-tree.ts). */
  private readonly expiry = new ExpiryIndex();
  private readonly createKeyOf = new Map<string, string>();
  private readonly tables: MemoryTables = {
    tasks: this.tasks,
    order: this.order,
    childIds: this.childIds,
    streams: this.streams,
    channels: this.channels,
    stalls: this.stalls,
    expiry: this.expiry,
    createKeys: this.createKeys,
    createKeyOf: this.createKeyOf,
    append: (channel, data, json, now) => this.append(channel, data, json, now),
  };
  private readonly box = new MemoryOutbox();
  readonly outbox: Outbox = outboxPort((fn) => this.run(() => fn(this.box)));
  private closed = false;

  constructor(limits: Partial<EngineLimits> = {}, opts: MemoryEngineOptions = {}) {
    this.limits = resolveEngineLimits(limits);
    this.now = opts.now ?? Date.now;
    this.fanout = new LocalFanout(
      opts.onListenerError ??
        ((err, channel) => console.error(`taskwire: an engine listener on ${channel} threw`, err)),
    );
  }

  start(): Promise<void> {
    return this.run(() => undefined);
  }

  readonly sync: SyncTaskStore = {
    getTask: (id) => {
      this.alive();
      return this.getTaskNow(id);
    },
    commit: (req) => {
      this.alive();
      return this.commitAllNow([req]);
    },
    commitAll: (reqs) => {
      this.alive();
      return this.commitAllNow(reqs);
    },
    children: (parentId) => {
      this.alive();
      return this.childrenNow(parentId);
    },
    appendStream: (req) => {
      this.alive();
      return this.appendStreamNow(req);
    },
    publish: (req) => {
      this.alive();
      return this.publishNow(req);
    },
  };

  getTask(id: string): Promise<Task | null> {
    return this.run(() => this.getTaskNow(id));
  }

  private getTaskNow(id: string): Task | null {
    return this.tasks.get(id) ?? null;
  }

  listTasks(req: ListTasksRequest): Promise<ListTasksResult> {
    return this.run(() => {
      const page = this.order.page(req, (id) => this.tasks.get(id) as Task);
      return { tasks: page.tasks, nextCursor: page.nextCursor };
    });
  }

  commit(req: CommitRequest): Promise<CommitResult> {
    return this.run(() => this.commitAllNow([req]));
  }

  children(parentId: string): Promise<Task[]> {
    return this.run(() => this.childrenNow(parentId));
  }

  appendStream(req: StreamAppendRequest): Promise<StreamAppendResult> {
    return this.run(() => this.appendStreamNow(req));
  }

  readStream(taskId: string, stream: string): Promise<StreamText> {
    return this.run(() => {
      const chunks = this.streams.get(taskId)?.get(stream) ?? [];
      return { text: chunks.join(''), chunks: chunks.length };
    });
  }

  /** The chunk, its event, the new summary on the snapshot (same version) and the deadline: all at once. */
  private appendStreamNow(req: StreamAppendRequest): StreamAppendResult {
    const now = this.now();
    const task = this.tasks.get(req.taskId) ?? null;
    const checked = checkAppend(task, req);
    if (!checked.ok) return checked;
    let byName = this.streams.get(req.taskId);
    if (!byName) this.streams.set(req.taskId, (byName = new Map<string, string[]>()));
    const chunks = byName.get(req.stream) ?? [];
    chunks.push(req.text);
    byName.set(req.stream, chunks);
    this.tasks.set(req.taskId, freezeDeep({ ...(task as Task), streams: checked.streams }));
    this.stalls.set(req.taskId, req.stallAt);
    const e = req.event;
    const event = this.append(e.channel, e.data, e.json ?? jsonOf(e.data), now);
    this.maintain(now);
    this.fanout.deliver([event]);
    return { ok: true, event, summary: checked.summary };
  }

  private childrenNow(parentId: string): Task[] {
    const ids = this.childIds.get(parentId);
    return ids ? Array.from(ids, (id) => this.tasks.get(id) as Task) : [];
  }

  /** Every request checked first (versions, idempotency, compare-and-set), then all applied: all or nothing. */
  private commitAllNow(reqs: readonly CommitRequest[]): CommitResult {
    const now = this.now();
    for (const req of reqs) {
      const failed = this.check(req, now);
      if (failed) return failed;
    }
    // Past this point nothing can fail: the state change below is all or nothing.
    const appended: StoredEvent[] = [];
    for (const req of reqs) {
      const { task } = req;
      const stored = this.tasks.get(task.id);
      // The streams summary is the engine's (appends keep it): a commit from an older read never takes it back.
      const snapshot = freezeDeep(
        stored && stored.streams !== task.streams ? { ...task, streams: stored.streams } : task,
      );
      if (!stored) {
        this.order.add(snapshot);
        if (typeof task.parentId === 'string')
          this.childIds.set(task.parentId, (this.childIds.get(task.parentId) ?? new Set()).add(task.id));
      }
      this.tasks.set(task.id, snapshot);
      this.stalls.set(task.id, req.stallAt);
      if (snapshot.parentId === null) this.expiry.set(task.id, finishedMs(snapshot));
      if (req.idempotency) {
        this.createKeys.set(req.idempotency.key, task.id, req.idempotency.ttlMs, now);
        this.createKeyOf.set(task.id, req.idempotency.key);
      }
      if (req.webhooks) this.box.add(req.webhooks);
      for (const e of req.events) appended.push(this.append(e.channel, e.data, e.json ?? jsonOf(e.data), now));
    }
    this.maintain(now);
    this.fanout.deliver(appended);
    return { ok: true, events: appended };
  }

  /** Why `req` cannot be committed now, or null. */
  private check(req: CommitRequest, now: number): Exclude<CommitResult, { ok: true }> | null {
    const { task, expectedVersion } = req;
    if (task.version !== expectedVersion + 1 && !(task.version === expectedVersion && expectedVersion > 0)) {
      throw new TaskwireError('internal', `commit: version ${task.version} after ${expectedVersion} is invalid`);
    }
    // The idempotency check comes first: a repeated create must read as a duplicate, not a conflict.
    if (req.idempotency) {
      const known = this.createKeys.get(req.idempotency.key, now);
      if (known !== undefined) return { ok: false, reason: 'duplicate', taskId: known };
    }
    const stored = this.tasks.get(task.id);
    if ((stored?.version ?? 0) !== expectedVersion) {
      return { ok: false, reason: 'conflict', current: stored ?? null };
    }
    return null;
  }

  lookupIdempotency(key: string): Promise<string | null> {
    return this.run(() => this.createKeys.get(key, this.now()) ?? null);
  }

  publish(req: PublishRequest): Promise<PublishResult> {
    return this.run(() => this.publishNow(req));
  }

  private publishNow(req: PublishRequest): PublishResult {
    const now = this.now();
    const keyId = req.idempotencyKey === undefined ? null : `${req.channel}\n${req.idempotencyKey}`;
    if (keyId !== null) {
      const first = this.publishKeys.get(keyId, now);
      if (first) return { event: first, duplicate: true };
    }
    const event = this.append(req.channel, req.data, req.json ?? jsonOf(req.data), now);
    if (keyId !== null) this.publishKeys.set(keyId, event, this.limits.idempotencyTtlMs, now);
    this.maintain(now);
    this.fanout.deliver([event]);
    return { event, duplicate: false };
  }

  history(channel: string, req: HistoryRequest): Promise<HistoryResult> {
    return this.run(() => {
      const now = this.now();
      const log = this.channel(channel, now);
      log.trim(this.limits.historySize, this.limits.historyTtlMs, now);
      return log.history(req, now);
    });
  }

  dueStalls(now: number, limit: number): Promise<Task[]> {
    return this.run(() => this.stalls.due(now, Math.max(0, Math.floor(limit))).map((id) => this.tasks.get(id) as Task));
  }

  expired(req: ExpiredRequest): Promise<ExpiredTask[]> {
    return this.run(() => this.expiry.page(req));
  }

  deleteTrees(reqs: readonly DeleteTreeRequest[]): Promise<DeleteTreeResult[]> {
    return this.run(() => {
      const now = this.now();
      const done = reqs.map((req) => deleteTree(this.tables, req, now));
      this.maintain(now);
      this.fanout.deliver(done.flatMap((d) => d.events));
      return done.map((d) => d.result);
    });
  }

  claim(key: string, ttlMs: number): Promise<boolean> {
    return this.run(() => {
      const now = this.now();
      if (this.claims.has(key, now)) return false;
      this.claims.set(key, true, ttlMs, now);
      return true;
    });
  }

  subscribe(channel: string, listener: EventListener): Promise<Unsubscribe> {
    return this.run(() => this.fanout.subscribe(channel, listener));
  }

  ping(): Promise<void> {
    return this.run(() => undefined);
  }

  stats(): { subscriptions: number } {
    return { subscriptions: this.fanout.size };
  }

  /** Sizes of the internal structures, for tests of boundedness. */
  internalSizes(): {
    channels: number;
    retainedEvents: number;
    publishKeys: number;
    claims: number;
    stallHeap: number;
    tasks: number;
    streams: number;
    createKeys: number;
    expiry: number;
  } {
    let retainedEvents = 0;
    for (const log of this.channels.values()) retainedEvents += log.retained;
    return {
      channels: this.channels.size,
      retainedEvents,
      publishKeys: this.publishKeys.size,
      claims: this.claims.size,
      stallHeap: this.stalls.heapSize,
      tasks: this.tasks.size,
      streams: this.streams.size,
      createKeys: this.createKeys.size,
      expiry: this.expiry.size,
    };
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.fanout.clear();
    }
    return Promise.resolve();
  }

  private alive(): void {
    if (this.closed) throw new TaskwireError('unavailable', 'the engine is closed');
  }

  /** Run synchronously, reporting a throw as a rejected promise, never as a synchronous exception. */
  private run<T>(fn: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new TaskwireError('unavailable', 'the engine is closed'));
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private channel(name: string, now: number): ChannelLog {
    let log = this.channels.get(name);
    if (!log) {
      log = new ChannelLog(name, now);
      this.channels.set(name, log);
      this.channelSweep.created();
    }
    return log;
  }

  private append(channel: string, data: unknown, json: string, now: number): StoredEvent {
    const log = this.channel(channel, now);
    const event = log.append(data, json, now);
    log.trim(this.limits.historySize, this.limits.historyTtlMs, now);
    return event;
  }

  /** Bounded background work on every write (see channel-sweep.ts). */
  private maintain(now: number): void {
    this.publishKeys.prune(now);
    this.createKeys.prune(now);
    this.claims.prune(now);
    this.channelSweep.run(this.channels, this.limits, now, (channel) => this.fanout.has(channel));
  }
}

export function createMemoryEngine(
  limits?: Partial<EngineLimits>,
  opts?: { now?: () => number; onListenerError?: (err: unknown, channel: string) => void },
): MemoryEngine {
  return new MemoryEngine(limits, opts);
}
