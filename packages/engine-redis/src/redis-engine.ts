/**
 * The Redis engine: several taskwire nodes share tasks, channel history and live
 * events through one Redis or a Redis Cluster. Layout and failure semantics:
 * keys.ts and docs/scaling.md. Every write is a Lua script (lua/*.lua); every error
 * that is not a contract answer surfaces as `unavailable`, so the API says 503 while
 * Redis is away, and nothing waits in an unbounded queue.
 */
import { TaskwireError, withTaskDefaults, type Task } from '@taskwire/protocol';
import type {
  CommitRequest,
  CommitResult,
  DeleteTreeRequest,
  DeleteTreeResult,
  Engine,
  EngineLimits,
  EventListener,
  ExpiredRequest,
  ExpiredTask,
  HistoryRequest,
  HistoryResult,
  ListTasksRequest,
  PendingParents,
  ListTasksResult,
  PublishRequest,
  PublishResult,
  StreamAppendRequest,
  StreamAppendResult,
  StreamText,
  StoredEvent,
  Unsubscribe,
} from '@taskwire/server/engine';
import { finishedMs, newEpoch, resolveEngineLimits } from '@taskwire/server/engine';
import { connectCluster, connectSingle, type Connections } from './connect.js';
import { DerivedWriter, appendArgs, parseAppend, type ChannelSettings, type Job } from './derived.js';
import { Keys, expiryMember, listMember } from './keys.js';
import { Broker, type Log } from './pubsub.js';
import { RedisOutbox } from './outbox.js';
import { pendingParents } from './pending-parents.js';
import { deleteTrees, expired, type RetentionDeps } from './retention.js';
import { readHistory } from './history.js';
import { scripts } from './scripts.js';
import { appendStream, readSnapshot, readStream } from './streams.js';
import { TaskIndex } from './task-index.js';

export interface RedisEngineOptions {
  /** A single Redis (default `redis://127.0.0.1:6379`). Ignored when `cluster` is given. */
  url?: string;
  /** Redis Cluster seed URLs (`redis://host:port`, any few masters); enables sharded pub/sub. */
  cluster?: string[];
  /** Prefix of every key and pub/sub channel (default `tw`), so several deployments can share a Redis. */
  prefix?: string;
  /** History and idempotency limits (defaults as the other engines: 1000 events, 24 h, 5 min). */
  limits?: Partial<EngineLimits>;
  /** Where connection trouble is reported (default: nowhere). */
  logger?: Log;
  /** A command not answered within this long fails with `unavailable` (default 5000 ms). */
  commandTimeoutMs?: number;
}

const MAX_PENDING_JOBS = 1000; // derived-work jobs kept per task (see commit.lua)
/** Tasks whose derived writes this node retries in the background (beyond: the next commit repairs them). */
const MAX_DEFERRED = 10_000;
const RETRY_DEFERRED_MS = 1000;
/** A channel's epoch outlives its events by this much at least, so a quiet channel keeps its position. */
const MIN_META_TTL_MS = 7 * 24 * 3600 * 1000;

const silent: Log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function json(data: unknown): string {
  return JSON.stringify(data) ?? 'null';
}

export class RedisEngine implements Engine {
  readonly kind = 'redis' as const;
  readonly limits: EngineLimits;
  private readonly keys: Keys;
  private readonly conn: Connections;
  private readonly broker: Broker;
  private readonly derived: DerivedWriter;
  private readonly index: TaskIndex;
  private readonly settings: ChannelSettings;
  private readonly logger: Log;
  private started: Promise<void> | null = null;
  private closed = false;
  /** Task ids whose derived writes failed here; retried every RETRY_DEFERRED_MS while Redis answers. */
  private readonly deferred = new Set<string>();
  private retryTimer: NodeJS.Timeout | null = null;
  private retrying = false;
  private readonly retention: RetentionDeps;

  constructor(opts: RedisEngineOptions = {}) {
    this.limits = resolveEngineLimits(opts.limits);
    this.logger = opts.logger ?? silent;
    this.keys = new Keys(opts.prefix ?? 'tw');
    const connect = {
      url: opts.url ?? 'redis://127.0.0.1:6379',
      commandTimeoutMs: opts.commandTimeoutMs ?? 5000,
      logger: this.logger,
    };
    this.conn =
      opts.cluster && opts.cluster.length > 0
        ? connectCluster({ ...connect, cluster: opts.cluster })
        : connectSingle(connect);
    this.settings = {
      sharded: this.conn.sharded,
      historySize: this.limits.historySize,
      historyTtlMs: this.limits.historyTtlMs,
      metaTtlMs: Math.max(2 * this.limits.historyTtlMs, MIN_META_TTL_MS),
      idempotencyTtlMs: this.limits.idempotencyTtlMs,
      newEpoch,
    };
    this.broker = new Broker(this.conn.transport, this.keys, this.logger, (channel, since) =>
      this.history(channel, { since, limit: this.limits.historySize }).then((h) => (h.recovered ? h.events : null)),
    );
    this.conn.listen(
      (pubsub, message) => this.broker.onMessage(pubsub, message),
      () => {
        this.logger.info({}, 'redis engine: broker connection back; catching up');
        void this.broker.resync();
      },
    );
    this.derived = new DerivedWriter(this.conn.client, this.keys, this.settings);
    this.index = new TaskIndex(this.conn.client, this.keys);
    this.retention = {
      client: () => this.conn.client,
      keys: this.keys,
      sharded: this.conn.sharded,
      index: this.index,
      getTask: (id) => this.getTask(id),
      publish: (req) => this.publish(req),
    };
    this.pendingParents = pendingParents(
      () => this.conn.client,
      this.keys,
      (fn) => this.guard('pendingParents', fn),
    );
    this.outbox = new RedisOutbox(
      () => this.conn.client,
      this.keys,
      (fn) => this.guard('outbox', fn),
    );
  }

  /** Connect. A failed start closes the engine, so nothing keeps reconnecting behind a server that never started. */
  start(): Promise<void> {
    this.started ??= this.guard('connect', () => this.conn.connect()).catch(async (err: unknown) => {
      await this.close();
      throw err;
    });
    return this.started;
  }

  getTask(id: string): Promise<Task | null> {
    return this.guard('getTask', async () => {
      const [json, streams] = await this.conn.client.hmget(this.keys.task(id), 'json', 'streams');
      return readSnapshot(json ?? null, streams);
    });
  }

  listTasks(req: ListTasksRequest): Promise<ListTasksResult> {
    return this.guard('listTasks', () => this.index.list(req));
  }

  children(parentId: string): Promise<Task[]> {
    return this.guard('children', () => this.index.children(parentId));
  }

  appendStream(req: StreamAppendRequest): Promise<StreamAppendResult> {
    return this.guard('appendStream', () => appendStream(this.conn.client, this.keys, this.settings, req));
  }

  readStream(taskId: string, stream: string): Promise<StreamText> {
    return this.guard('readStream', () => readStream(this.conn.client, this.keys, taskId, stream));
  }

  /** Parent marks in the `{idx}` slot (see pending-parents.ts). */
  readonly pendingParents: PendingParents;
  /** The webhook outbox: messages in their task's slot, indexes in `{idx}` (see outbox.ts). */
  readonly outbox: RedisOutbox;

  commit(req: CommitRequest): Promise<CommitResult> {
    const { task, expectedVersion } = req;
    if (task.version !== expectedVersion + 1 && !(task.version === expectedVersion && expectedVersion > 0)) {
      return Promise.reject(
        new TaskwireError('internal', `commit: version ${task.version} after ${expectedVersion} is invalid`),
      );
    }
    return this.guard('commit', async () => {
      const client = this.conn.client;
      const idem = req.idempotency;
      // The create key lives in its own slot, so it is claimed first (set-if-absent) and
      // released again if the commit does not happen: a repeat reads as a duplicate.
      if (idem) {
        const first = await client.call('SET', this.keys.createKey(idem.key), task.id, 'PX', idem.ttlMs, 'NX', 'GET');
        if (typeof first === 'string') return { ok: false, reason: 'duplicate', taskId: first };
      }
      try {
        if (req.expectedVersion === 0) await this.index.addMembership(task);
        if (req.webhooks?.length) await this.outbox.beforeCommit(task.id, req.webhooks);
        const result = await this.commitTask(req);
        // Deleted with the task (retention); lost in a crash right here, it still expires with its TTL.
        if (idem && result.ok) await client.hset(this.keys.task(task.id), 'idem', idem.key);
        return result;
      } catch (err) {
        if (idem) await this.releaseCreateKey(idem.key, task.id);
        throw err;
      }
    });
  }

  lookupIdempotency(key: string): Promise<string | null> {
    return this.guard('lookupIdempotency', () => this.conn.client.get(this.keys.createKey(key)));
  }

  publish(req: PublishRequest): Promise<PublishResult> {
    return this.guard('publish', async () => {
      const ck = this.keys.channel(req.channel);
      const dedupe = req.idempotencyKey !== undefined;
      // Without a key, KEYS[3] is unused; the meta key keeps the call in the channel's slot.
      const keys = [ck.meta, ck.stream, dedupe ? ck.publishKey(req.idempotencyKey as string) : ck.meta];
      const args = appendArgs(this.settings, this.keys, req.channel, json(req.data), dedupe);
      return parseAppend(await scripts().append.run(this.conn.client, keys, args));
    });
  }

  history(channel: string, req: HistoryRequest): Promise<HistoryResult> {
    return this.guard('history', () => readHistory(this.conn.client, this.keys, this.settings, channel, req));
  }

  dueStalls(now: number, limit: number): Promise<Task[]> {
    return this.guard('dueStalls', () => this.index.due(now, limit));
  }

  expired(req: ExpiredRequest): Promise<ExpiredTask[]> {
    return this.guard('expired', () => expired(this.retention, req));
  }

  deleteTrees(reqs: readonly DeleteTreeRequest[]): Promise<DeleteTreeResult[]> {
    return this.guard('deleteTrees', () => deleteTrees(this.retention, reqs));
  }

  claim(key: string, ttlMs: number): Promise<boolean> {
    return this.guard('claim', async () => {
      const ok = await this.conn.client.set(this.keys.claim(key), '1', 'PX', ttlMs, 'NX');
      return ok === 'OK';
    });
  }

  subscribe(channel: string, listener: EventListener): Promise<Unsubscribe> {
    return this.guard('subscribe', () => this.broker.subscribe(channel, listener));
  }

  ping(): Promise<void> {
    return this.guard('ping', async () => {
      if (!this.conn.ready()) throw new Error('not connected');
      await this.conn.client.ping();
    });
  }

  stats(): { subscriptions: number } {
    return { subscriptions: this.broker.subscriptions };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearInterval(this.retryTimer);
    this.retryTimer = null;
    this.deferred.clear();
    this.broker.clear();
    await this.conn.close();
  }

  /** The task's slot first (commit.lua), then the derived writes in other slots (derived.ts). */
  private async commitTask(req: CommitRequest): Promise<CommitResult> {
    const { task } = req;
    const own = `task:${task.id}`;
    const ck = this.keys.channel(own);
    const finished = finishedMs(task);
    const job: Job = {
      id: newEpoch(),
      taskId: task.id,
      version: task.version,
      owner: task.owner,
      member: req.expectedVersion === 0 ? listMember(task.createdAt, task.id) : '',
      stallAt: req.stallAt,
      expiry: task.parentId === null && finished !== null ? expiryMember(finished, task.id) : '',
      mirror: req.events.flatMap((e, index) =>
        e.channel === own ? [] : [{ index, channel: e.channel, data: e.json ?? json(e.data) }],
      ),
    };
    const raw = JSON.stringify(job);
    const local = req.events.filter((e) => e.channel === own).map((e) => e.json ?? json(e.data));
    const reply = (await scripts().commit.run(
      this.conn.client,
      [this.keys.task(task.id), this.keys.pending(task.id), ck.meta, ck.stream, ...this.outbox.commitKeys(task.id)],
      [
        req.expectedVersion,
        task.version,
        JSON.stringify(task),
        req.stallAt ?? '',
        newEpoch(),
        this.limits.historySize,
        this.limits.historyTtlMs,
        this.settings.metaTtlMs,
        this.settings.sharded ? '1' : '0',
        JSON.stringify(own),
        ck.pubsub,
        raw,
        MAX_PENDING_JOBS,
        ...this.outbox.commitArgs(req.webhooks ?? []),
        ...local,
      ],
    )) as [string, ...unknown[]];
    if (reply[0] === 'conflict') {
      if (req.idempotency) await this.releaseCreateKey(req.idempotency.key, task.id);
      if (req.webhooks?.length) await this.outbox.afterConflict(req.webhooks);
      const current = reply[1];
      return {
        ok: false,
        reason: 'conflict',
        current: typeof current === 'string' && current !== '' ? withTaskDefaults(JSON.parse(current) as Task) : null,
      };
    }
    const localEvents = (reply.slice(2) as string[]).map((e) => JSON.parse(e) as StoredEvent);
    let mirrored = new Map<number, StoredEvent>();
    try {
      mirrored = await this.derived.apply(reply[1] as string[], raw);
    } catch (err) {
      // The snapshot is committed (the truth); the job stays pending, and this node retries
      // it in the background (as does the next commit of this task, on any node). Failing
      // the call now would invite the caller to apply its change twice.
      this.logger.warn({ err, taskId: task.id }, 'redis engine: derived writes deferred');
      this.defer(task.id);
    }
    const events: StoredEvent[] = [];
    let next = 0;
    req.events.forEach((e, index) => {
      const stored = e.channel === own ? localEvents[next++] : mirrored.get(index);
      if (stored) events.push(stored);
    });
    return { ok: true, events };
  }

  private defer(taskId: string): void {
    if (this.closed || this.deferred.size >= MAX_DEFERRED) return;
    this.deferred.add(taskId);
    this.retryTimer ??= setInterval(() => void this.retryDeferred(), RETRY_DEFERRED_MS);
    this.retryTimer.unref();
  }

  private async retryDeferred(): Promise<void> {
    if (this.retrying || this.closed || !this.conn.ready()) return;
    this.retrying = true;
    try {
      for (const taskId of Array.from(this.deferred)) {
        await this.derived.replay(taskId);
        this.deferred.delete(taskId);
      }
    } catch (err) {
      this.logger.debug({ err }, 'redis engine: deferred derived writes still failing');
    } finally {
      this.retrying = false;
      if (this.deferred.size === 0 && this.retryTimer) {
        clearInterval(this.retryTimer);
        this.retryTimer = null;
      }
    }
  }

  private async releaseCreateKey(key: string, taskId: string): Promise<void> {
    const name = this.keys.createKey(key);
    try {
      if ((await this.conn.client.get(name)) === taskId) await this.conn.client.del(name);
    } catch (err) {
      this.logger.warn({ err, key: name }, 'redis engine: could not release a create idempotency key');
    }
  }

  /** Run an operation; Redis trouble becomes `unavailable`, contract errors pass through. */
  private async guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new TaskwireError('unavailable', 'the engine is closed');
    try {
      return await fn();
    } catch (err) {
      if (err instanceof TaskwireError) throw err;
      const detail = err instanceof Error ? err.message : String(err);
      throw new TaskwireError('unavailable', `redis ${what} failed: ${detail}`, { cause: err });
    }
  }
}

export function createRedisEngine(opts: RedisEngineOptions = {}): Engine {
  return new RedisEngine(opts);
}
