/**
 * The task service: every change is get → reduce() → Engine.commit with
 * compare-and-set on `version`, retried on conflict. reduce() decides what a change
 * means; this module only decides which events a change publishes and when the
 * task's stall deadline falls.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import {
  LIMITS,
  TaskwireError,
  isTaskwireError,
  reduce,
  taskChannel,
  userChannel,
  utf8Length,
  type Task,
  type TaskChange,
  type TaskEventData,
} from '@taskwire/protocol';
import type { CommitRequest, CommitResult, Engine } from '../engine/types.js';
import type { CreateTaskInput, TaskService, UpdateTaskInput } from './types.js';

export interface TaskServiceOptions {
  logger: Logger;
  /** Clock, ms since the Unix epoch (tests). */
  now?: () => number;
  /** Generates ids for tasks created without one. */
  newId?: () => string;
  /** Attempts of one change under contention before giving up with `conflict` (default 20). */
  maxAttempts?: number;
  /** Tasks fetched per dueStalls call during a sweep (default 100). */
  sweepBatch?: number;
}

/** How long a create Idempotency-Key is remembered (PROTOCOL §4: 24 h). */
export const CREATE_IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `t_` + 16 random base62 characters (~95 bits). */
export function newTaskId(): string {
  let out = 't_';
  while (out.length < 18) {
    for (const byte of randomBytes(24)) {
      // 248 = 4 × 62: rejecting bytes above it keeps the characters uniform.
      if (byte < 248 && out.length < 18) out += BASE62[byte % 62];
    }
  }
  return out;
}

/** Events of a snapshot change: mirrored on the task's channel and its owner's. */
function snapshotEvents(kind: 'task.created' | 'task.updated', task: Task): CommitRequest['events'] {
  const data: TaskEventData = { kind, task };
  return [
    { channel: taskChannel(task.id), data },
    { channel: userChannel(task.owner), data },
  ];
}

/** A running task must report within its stall timeout; any other status has no deadline. */
function stallAtOf(task: Task, now: number): number | null {
  return task.status === 'running' && task.stallTimeoutMs > 0 ? now + task.stallTimeoutMs : null;
}

/** Engine failures (anything that is not a TaskwireError) become `unavailable`, cause kept. */
async function viaEngine<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isTaskwireError(err)) throw err;
    const detail = err instanceof Error ? err.message : String(err);
    throw new TaskwireError('unavailable', `engine ${what} failed: ${detail}`, { cause: err });
  }
}

/** Full-jitter backoff between compare-and-set attempts, so nodes racing on one task spread out. */
function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(100, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function validateLines(lines: unknown): string[] {
  if (!Array.isArray(lines) || lines.length === 0 || lines.length > LIMITS.logLinesPerCall) {
    throw new TaskwireError('bad_request', `lines must be an array of 1-${LIMITS.logLinesPerCall} strings`);
  }
  for (const line of lines) {
    if (typeof line !== 'string' || utf8Length(line) > LIMITS.logLineBytes) {
      throw new TaskwireError('bad_request', `each log line must be a string of at most ${LIMITS.logLineBytes} bytes`);
    }
  }
  return [...(lines as string[])];
}

class DefaultTaskService implements TaskService {
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly newId: () => string;
  private readonly maxAttempts: number;
  private readonly sweepBatch: number;
  /** Tail of the queue of changes per task on this node (see serialized()). */
  private readonly queues = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;

  constructor(
    private readonly engine: Engine,
    opts: TaskServiceOptions,
  ) {
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
    this.newId = opts.newId ?? newTaskId;
    this.maxAttempts = opts.maxAttempts ?? 20;
    this.sweepBatch = opts.sweepBatch ?? 100;
  }

  async create(input: CreateTaskInput, idempotencyKey?: string): Promise<{ task: Task; created: boolean }> {
    if (idempotencyKey !== undefined) {
      if (idempotencyKey.length === 0 || idempotencyKey.length > LIMITS.idempotencyKeyChars) {
        throw new TaskwireError('bad_request', `Idempotency-Key must be 1-${LIMITS.idempotencyKeyChars} characters`);
      }
      const known = await viaEngine('lookupIdempotency', () => this.engine.lookupIdempotency(idempotencyKey));
      if (known !== null) return { task: await this.existing(known), created: false };
    }
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const id = input.id ?? this.newId();
      const change: TaskChange = { type: 'create', ...input, id };
      const task = reduce(null, change, this.now()) as Task;
      const result = await this.commit({
        task,
        expectedVersion: 0,
        events: snapshotEvents('task.created', task),
        stallAt: stallAtOf(task, this.now()),
        ...(idempotencyKey === undefined
          ? {}
          : { idempotency: { key: idempotencyKey, ttlMs: CREATE_IDEMPOTENCY_TTL_MS } }),
      });
      if (result.ok) return { task, created: true };
      // A concurrent request with the same key won the race: answer as a repeat.
      if (result.reason === 'duplicate') return { task: await this.existing(result.taskId), created: false };
      if (input.id !== undefined) throw new TaskwireError('conflict', `task ${input.id} already exists`);
      // A generated id collided (practically never): draw another.
    }
    throw new TaskwireError('conflict', 'could not allocate a task id');
  }

  update(id: string, input: UpdateTaskInput): Promise<Task> {
    return this.change(id, { type: 'update', ...input });
  }

  async appendLogs(id: string, lines: string[]): Promise<Task> {
    const valid = validateLines(lines);
    const data: TaskEventData = { kind: 'task.log', taskId: id, lines: valid };
    return await this.change(id, { type: 'activity' }, [{ channel: taskChannel(id), data }]);
  }

  requestApproval(id: string, prompt: string, options?: string[]): Promise<Task> {
    return this.change(
      id,
      options === undefined ? { type: 'request_approval', prompt } : { type: 'request_approval', prompt, options },
    );
  }

  decide(id: string, decision: 'approve' | 'reject', comment: string | null | undefined, by: string): Promise<Task> {
    return this.change(id, { type: 'decide', decision, comment: comment ?? null, by });
  }

  cancel(id: string): Promise<Task> {
    return this.change(id, { type: 'cancel' });
  }

  get(id: string): Promise<Task | null> {
    return viaEngine('getTask', () => this.engine.getTask(id));
  }

  list(req: { owner?: string; status?: Task['status']; limit: number; cursor?: string }) {
    return viaEngine('listTasks', () => this.engine.listTasks(req));
  }

  async sweepStalls(now: number = this.now()): Promise<number> {
    let marked = 0;
    const seen = new Set<string>();
    // Bounded: a batch made only of tasks already tried (lost races still due) ends the sweep.
    for (let round = 0; round < 1000; round++) {
      const due = await viaEngine('dueStalls', () => this.engine.dueStalls(now, this.sweepBatch));
      const fresh = due.filter((t) => !seen.has(t.id));
      for (const task of fresh) {
        seen.add(task.id);
        if (await this.markStalled(task, now)) marked += 1;
      }
      if (due.length < this.sweepBatch || fresh.length === 0) break;
    }
    return marked;
  }

  start(intervalMs: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // One sweep at a time: a slow engine must not pile sweeps up.
      if (this.sweeping) return;
      this.sweeping = this.sweepStalls()
        .then((n) => {
          if (n > 0) this.logger.info({ stalled: n }, 'marked tasks as stalled');
        })
        .catch((err: unknown) => this.logger.error({ err }, 'stall sweep failed'))
        .finally(() => {
          this.sweeping = null;
        });
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sweeping;
  }

  /** Mark one due task stalled. A CAS conflict means a worker or another node got there first: skip. */
  private async markStalled(task: Task, now: number): Promise<boolean> {
    if (task.status !== 'running') {
      // A deadline left on a task that is no longer running (should not happen): clear it so it stops coming back.
      await this.commit({ task, expectedVersion: task.version, events: [], stallAt: null });
      return false;
    }
    const next = reduce(task, { type: 'stall' }, now) as Task;
    const result = await this.commit({
      task: next,
      expectedVersion: task.version,
      events: snapshotEvents('task.updated', next),
      stallAt: null,
    });
    if (!result.ok) this.logger.debug({ taskId: task.id }, 'stall mark lost a race; skipped');
    return result.ok;
  }

  private change(id: string, change: TaskChange, extra: CommitRequest['events'] = []): Promise<Task> {
    return this.serialized(id, () => this.changeWithRetry(id, change, extra));
  }

  /**
   * Changes to one task from this node run one at a time: they would only make each
   * other lose compare-and-set races. Compare-and-set still arbitrates between nodes.
   */
  private async serialized<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(id) ?? Promise.resolve();
    let release = (): void => undefined;
    const done = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => done);
    this.queues.set(id, tail);
    try {
      await previous;
      return await fn();
    } finally {
      release();
      if (this.queues.get(id) === tail) this.queues.delete(id);
    }
  }

  /**
   * Apply a change with optimistic concurrency. `extra` events (log lines) follow the
   * snapshot event in the same commit; when the snapshot does not change they are
   * committed alone with the version unchanged (still compare-and-set).
   */
  private async changeWithRetry(id: string, change: TaskChange, extra: CommitRequest['events']): Promise<Task> {
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      if (attempt > 0) await backoff(attempt);
      const current = await viaEngine('getTask', () => this.engine.getTask(id));
      const now = this.now();
      // reduce() throws not_found for a missing task: never a silent create.
      const next = reduce(current, change, now);
      const base = current as Task;
      let result: CommitResult;
      if (next === null) {
        const stallAt = stallAtOf(base, now);
        // Nothing to store: no events and no deadline to push (only running tasks have one).
        if (extra.length === 0 && stallAt === null) return base;
        result = await this.commit({ task: base, expectedVersion: base.version, events: extra, stallAt });
        if (result.ok) return base;
      } else {
        result = await this.commit({
          task: next,
          expectedVersion: base.version,
          events: [...snapshotEvents('task.updated', next), ...extra],
          stallAt: stallAtOf(next, now),
        });
        if (result.ok) return next;
      }
      if (result.reason === 'duplicate') throw new TaskwireError('internal', 'engine reported a duplicate on update');
    }
    throw new TaskwireError('conflict', `task ${id} is changing too fast; try again`);
  }

  private commit(req: CommitRequest): Promise<CommitResult> {
    return viaEngine('commit', () => this.engine.commit(req));
  }

  /** The task an idempotency key points at. Tasks are never deleted, so a miss is an engine fault. */
  private async existing(id: string): Promise<Task> {
    const task = await viaEngine('getTask', () => this.engine.getTask(id));
    if (!task) throw new TaskwireError('internal', `idempotency key refers to missing task ${id}`);
    return task;
  }
}

export function createTaskService(engine: Engine, opts: TaskServiceOptions): TaskService {
  return new DefaultTaskService(engine, opts);
}
