/**
 * The Engine is the whole storage and broker seam (docs/architecture.md): memory, SQLite and
 * Redis implement it and pass one conformance suite (`../testing/conformance.ts`).
 * It holds no task semantics: reduce() in @taskwire/protocol decides what a
 * change means; the engine stores the result atomically.
 */
import type { Position, StreamSummary, Task, TaskStatus } from '@taskwire/protocol';

export type { Position };

/** One event as stored in a channel's log. `(epoch, offset)` identifies it for ever. */
export interface StoredEvent {
  channel: string;
  epoch: string;
  offset: number;
  /** Milliseconds since the Unix epoch, when the engine stored it. */
  time: number;
  /** Read-only: it may be shared by every reader (events read back from the memory engine are frozen). */
  data: unknown;
  /**
   * The JSON text of `data`, when the engine has it at hand (it serialized `data` to
   * store it, or was given it): the Hub then sends it as it is instead of serializing
   * `data` again.
   */
  json?: string;
}

/**
 * Snapshots and event data are immutable values: an engine may keep what it is given
 * and hand the same objects to every reader (the memory engine does, frozen), so
 * neither a caller nor a reader may change them.
 */
export interface CommitRequest {
  /** The new snapshot. Its `version` is `expectedVersion + 1`, or equal to it when only events are appended. */
  task: Task;
  /** The version the caller read (0 when creating). The commit fails with `conflict` if the stored one differs. */
  expectedVersion: number;
  /**
   * Events appended atomically with the snapshot, each to its channel's log, in this
   * order. `json`, when given, is `JSON.stringify(data)` (the task service serializes
   * a snapshot event once for both of its channels).
   */
  events: ReadonlyArray<{ channel: string; data: unknown; json?: string }>;
  /** When the task should be marked stalled (ms since epoch), or null for never. Replaces the stored deadline. */
  stallAt: number | null;
  /** Create only: remember this key → task id for `ttlMs`; if the key is already known the commit fails with `duplicate`. */
  idempotency?: { key: string; ttlMs: number };
  /** Webhook messages this change causes, stored in the outbox with it, all or none (see Outbox). */
  webhooks?: readonly OutboxMessage[];
}

/** A webhook message for one endpoint, as the task service makes it (protocol 1.1 §8 webhooks). */
export interface OutboxMessage {
  /** `msg_…`, unique; the `webhook-id` header of every attempt. */
  id: string;
  endpoint: string;
  taskId: string;
  type: string;
  /** The request body, exactly as signed and sent. */
  body: string;
  /** When the change was made (ms); the message is due from then. */
  createdAt: number;
}

export interface WebhookAttempt {
  /** ms since the epoch */
  at: number;
  /** The HTTP status, or null without an answer. */
  status: number | null;
  error?: string;
}

export type WebhookStatus = 'pending' | 'delivered' | 'failed';

export interface StoredWebhook extends OutboxMessage {
  status: WebhookStatus;
  attempts: WebhookAttempt[];
  /** When it is due next (pending), ms. */
  nextAt: number;
}

export type WebhookOutcome =
  | { kind: 'delivered'; attempt: WebhookAttempt }
  | { kind: 'retry'; attempt: WebhookAttempt; nextAt: number }
  | { kind: 'failed'; attempt: WebhookAttempt };

/**
 * The webhook outbox: messages stored with the commit that caused them (CommitRequest
 * `webhooks`), claimed by one sender at a time under a lease, settled after each
 * attempt. Per endpoint and task, only the oldest pending message is ever claimable,
 * so one task's messages go out in the order of its changes.
 */
export interface Outbox {
  /**
   * Up to `limit` due messages (nextAt ≤ now), each the oldest pending one of its
   * endpoint and task, not leased by anyone (or with a lease expired); leased to
   * `owner` until `now + leaseMs`.
   */
  claim(now: number, limit: number, leaseMs: number, owner: string): Promise<StoredWebhook[]>;
  /** Record an attempt's outcome; false (nothing changed) when `owner` no longer holds the lease. */
  settle(id: string, owner: string, outcome: WebhookOutcome): Promise<boolean>;
  /** Messages with `status`, newest first, after the cursor (a message id). */
  list(status: WebhookStatus, limit: number, after?: string): Promise<StoredWebhook[]>;
  get(id: string): Promise<StoredWebhook | null>;
  /** A failed message pending again, due `now`; null when unknown, the message as it is when not failed. */
  retry(id: string, now: number): Promise<StoredWebhook | null>;
  /** Counts by status, and the creation time of the oldest pending message. */
  counts(): Promise<{ pending: number; failed: number; delivered: number; oldestPendingAt: number | null }>;
}

export type CommitResult =
  | { ok: true; events: StoredEvent[] }
  | { ok: false; reason: 'conflict'; current: Task | null }
  | { ok: false; reason: 'duplicate'; taskId: string };

export interface PublishRequest {
  channel: string;
  data: unknown;
  /** When given, `JSON.stringify(data)` (the channel service has it from its size check): engines store it as it is. */
  json?: string;
  /** A repeat within `idempotencyTtlMs` returns the first position and appends nothing. */
  idempotencyKey?: string;
}

export interface PublishResult {
  event: StoredEvent;
  /** True when the idempotency key was seen before; `event` is then the first publish's position. */
  duplicate: boolean;
}

export interface HistoryRequest {
  /** Return the first `limit` events after this position (all or nothing). Without it: the latest `limit`. */
  since?: Position;
  limit: number;
}

export interface HistoryResult {
  /** The channel's current position: the epoch and the offset of its newest event (0 when empty). */
  epoch: string;
  offset: number;
  /**
   * With `since`: true when `since.epoch` is the current epoch and every event after
   * `since.offset` is still retained (then `events` starts at `since.offset + 1`).
   * False otherwise, and `events` is empty. Without `since`: always true.
   */
  recovered: boolean;
  events: StoredEvent[];
}

export interface ListTasksRequest {
  owner?: string;
  status?: TaskStatus;
  /** Only the direct children of this task. */
  parent?: string;
  /** Only tasks carrying this tag. */
  tag?: string;
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface ListTasksResult {
  /** Newest first (by createdAt, then id). */
  tasks: Task[];
  nextCursor: string | null;
}

/**
 * One chunk appended to a task's stream (protocol 1.1 §8). The engine owns the
 * snapshot's `streams` summary: it updates it with the chunk, without changing the
 * task's `version`, atomically with the chunk, its event and the stall deadline.
 */
export interface StreamAppendRequest {
  taskId: string;
  stream: string;
  /** The stream's chunk count the caller read (0 for a new stream): another append since → `conflict`. */
  index: number;
  text: string;
  /** The chunk's event on `task:<id>` (kind `task.stream`); `json`, when given, is its data's JSON. */
  event: { channel: string; data: unknown; json?: string };
  /** The task's stall deadline from now on (an append is activity). */
  stallAt: number | null;
  /** Refused, nothing stored: the stream would hold more than `maxBytes` (UTF-8), or it is new and the task has `maxStreams`. */
  maxBytes: number;
  maxStreams: number;
}

export type StreamAppendResult =
  | { ok: true; event: StoredEvent; summary: StreamSummary }
  | { ok: false; reason: 'conflict' | 'not_found' | 'too_large' | 'too_many' };

/** A stream's whole text so far, and its chunk count. */
export interface StreamText {
  text: string;
  chunks: number;
}

/** A top-level task that has ended, by when (protocol 1.1 §8, retention). */
export interface ExpiredTask {
  id: string;
  /** `finishedAt`, ms since the Unix epoch. */
  finishedAt: number;
}

export interface ExpiredRequest {
  /** Only tasks that ended at or before this time (ms). */
  before: number;
  limit: number;
  /** Continue after this one (the last of the previous page), in (finishedAt, id) order. */
  after?: ExpiredTask;
}

export interface DeleteTreeRequest {
  id: string;
  /** The sweep: every task of the tree must have ended at or before this time (ms), else `not_expired`. */
  finishedBefore?: number;
}

/**
 * What deleting a tree did. Refused, nothing is deleted: `not_found`; `child` (the task
 * has a parent: a batch goes whole, with its root); `active` (`taskId`, the task or a
 * descendant, has not ended); `not_expired` (with `finishedBefore`: `taskId` ended after it).
 */
export type DeleteTreeResult =
  | { ok: true; deleted: number }
  | { ok: false; reason: 'not_found' }
  | { ok: false; reason: 'child'; parentId: string }
  | { ok: false; reason: 'active' | 'not_expired'; taskId: string };

export type EventListener = (event: StoredEvent) => void;
export type Unsubscribe = () => Promise<void>;

/**
 * The synchronous face of an engine whose storage is in this process (memory,
 * SQLite): the task service then applies a change (get, reduce, commit) in one
 * synchronous step, with no promise per operation, and no other change can
 * interleave on this node; the channel service publishes through it, so a
 * WebSocket publish is answered in the turn that read it. Failures are thrown (TaskwireError `unavailable` once closed).
 */
export interface SyncTaskStore {
  getTask(id: string): Task | null;
  commit(req: CommitRequest): CommitResult;
  /** Several commits in one transaction, all or none: the first failure is the answer and nothing is stored. */
  commitAll(reqs: readonly CommitRequest[]): CommitResult;
  /** Every direct child of a task, as `Engine.children`. */
  children(parentId: string): Task[];
  appendStream(req: StreamAppendRequest): StreamAppendResult;
  /** A plain channel's publish, as `Engine.publish`: a WebSocket publisher's reply needs no promise. */
  publish(req: PublishRequest): PublishResult;
}

/**
 * Parents whose snapshot may lag their children, on an engine where a child's
 * commit and its parent's are two steps (Redis: they may live on different
 * shards). A parent is marked before a child's commit and cleared once it has been
 * brought up to date; the task service's sweep brings up to date the parents marked
 * long ago (the node that marked them may have died between the two steps).
 */
export interface PendingParents {
  /** Mark the parent; the mark is its time (ms). */
  mark(parentId: string, now: number): Promise<void>;
  /** Parents marked at or before `before`, oldest first, with their mark. */
  due(before: number, limit: number): Promise<Array<{ id: string; mark: number }>>;
  /** Clear a mark, unless it was renewed after `mark`. */
  clear(parentId: string, mark: number): Promise<void>;
}

export interface Engine {
  readonly kind: 'memory' | 'sqlite' | 'redis';
  /** Present on engines with synchronous in-process storage; the Redis engine has none. */
  readonly sync?: SyncTaskStore;
  /** Present on engines that commit a child and its parent in two steps (see PendingParents). */
  readonly pendingParents?: PendingParents;
  /** The webhook outbox; an engine without one cannot run with webhook endpoints configured. */
  readonly outbox?: Outbox;
  /** Resolves when ready to serve (connected, migrated). */
  start(): Promise<void>;
  getTask(id: string): Promise<Task | null>;
  listTasks(req: ListTasksRequest): Promise<ListTasksResult>;
  /** Every direct child of a task (at most MAX_CHILDREN), in no particular order; [] for none or a missing task. */
  children(parentId: string): Promise<Task[]>;
  /** Atomic: compare-and-set on version, snapshot, events, stall deadline, idempotency key. */
  commit(req: CommitRequest): Promise<CommitResult>;
  /** Append one chunk to a task's stream (see StreamAppendRequest). */
  appendStream(req: StreamAppendRequest): Promise<StreamAppendResult>;
  /** Every chunk of a task's stream so far, joined; `{text: '', chunks: 0}` for a stream never written. */
  readStream(taskId: string, stream: string): Promise<StreamText>;
  /** The task id a create idempotency key maps to, if it is still known. */
  lookupIdempotency(key: string): Promise<string | null>;
  /** Append one event to a plain channel's log (idempotent with a key). */
  publish(req: PublishRequest): Promise<PublishResult>;
  history(channel: string, req: HistoryRequest): Promise<HistoryResult>;
  /** Tasks whose stall deadline is at or before `now`, at most `limit`. */
  dueStalls(now: number, limit: number): Promise<Task[]>;
  /**
   * Top-level tasks (no parent) that ended at or before `before`, oldest first, in
   * (finishedAt, id) order: the candidates of the retention sweep.
   */
  expired(req: ExpiredRequest): Promise<ExpiredTask[]>;
  /**
   * Delete top-level tasks, each with every descendant, if all of them have ended: snapshots,
   * the `task:<id>` channels (history and position), streams, create idempotency keys,
   * list, tag, parent and stall indexes. For each task deleted, `{kind: "task.deleted",
   * taskId}` is appended to `user:<owner>`, and the listeners of `task:<id>` on every node
   * receive one last event with that data, which is not stored (the Hub ends their
   * subscriptions with it). Idempotent: deleting what is gone answers `not_found`.
   * One result per request, in order; each tree is checked and deleted on its own.
   * Memory and SQLite delete them in one transaction (each tree atomically); Redis
   * task by task, deepest first.
   */
  deleteTrees(reqs: readonly DeleteTreeRequest[]): Promise<DeleteTreeResult[]>;
  /** Set-if-absent with expiry: true the first time a key is claimed (single-use tickets). */
  claim(key: string, ttlMs: number): Promise<boolean>;
  /**
   * Receive every event appended to `channel` from now on, on any node, in offset
   * order. The Hub calls it once per channel per node and ref-counts it.
   */
  subscribe(channel: string, listener: EventListener): Promise<Unsubscribe>;
  /** Throws when the engine cannot serve (for /readyz). */
  ping(): Promise<void>;
  /** Numbers for stats and leak tests. */
  stats(): { subscriptions: number };
  close(): Promise<void>;
}

export interface EngineLimits {
  /** Events kept per channel (default 1000). */
  historySize: number;
  /** Age after which events are trimmed, ms (default 24 h). */
  historyTtlMs: number;
  /** How long a publish idempotency key is remembered, ms (default 5 min). */
  idempotencyTtlMs: number;
}

/** What an engine may log with: a pino logger fits, and so does any object with these four methods. */
export interface EngineLog {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
