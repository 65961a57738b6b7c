/**
 * The task service: every change is get → reduce() → Engine.commit with
 * compare-and-set on `version`, retried on conflict. reduce() decides what a change
 * means; this module only decides which events a change publishes and when the
 * task's stall deadline falls.
 */
import type { Logger } from 'pino';
import {
  IdempotencyKey,
  LIMITS,
  LogsBody,
  TaskwireError,
  firstProblem,
  isTaskwireError,
  reduce,
  taskChannel,
  userChannel,
  type Task,
  type TaskChange,
  type TaskEventData,
} from '@taskwire/protocol';
import { TUNING } from '../config/options.js';
import { attempt } from '../util/attempt.js';
import { newTaskId } from '../util/random-id.js';
import type { CommitRequest, CommitResult, Engine, SyncTaskStore } from '../engine/types.js';
import type { CreateTaskInput, TaskService, UpdateTaskInput } from './types.js';

export interface TaskServiceOptions {
  logger: Logger;
  /** Clock, ms since the Unix epoch (tests). */
  now?: () => number;
  /** Generates ids for tasks created without one. */
  newId?: () => string;
  /** Attempts of one change under contention before giving up with `conflict` (default `TUNING.changeAttempts`). */
  maxAttempts?: number;
  /** Tasks fetched per dueStalls call during a sweep (default `TUNING.stallSweepBatch`). */
  sweepBatch?: number;
}

/**
 * Events of a snapshot change: mirrored on the task's channel and its owner's, with
 * the one JSON text of their data (engines store it, the Hub sends it as it is).
 */
function snapshotEvents(kind: 'task.created' | 'task.updated', task: Task): CommitRequest['events'] {
  const data: TaskEventData = { kind, task };
  const json = JSON.stringify(data);
  return [
    { channel: taskChannel(task.id), data, json },
    { channel: userChannel(task.owner), data, json },
  ];
}

/** A running task must report within its stall timeout; any other status has no deadline. */
function stallAtOf(task: Task, now: number): number | null {
  return task.status === 'running' && task.stallTimeoutMs > 0 ? now + task.stallTimeoutMs : null;
}

/** Engine failures (anything that is not a TaskwireError) become `unavailable`, cause kept. */
function engineFailure(what: string, err: unknown): Error {
  if (isTaskwireError(err)) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new TaskwireError('unavailable', `engine ${what} failed: ${detail}`, { cause: err });
}

/** One engine call, its failure mapped by engineFailure (no `async` frame: this is on every update's path). */
function viaEngine<T>(what: string, fn: () => Promise<T>): Promise<T> {
  return attempt(fn).catch((err: unknown) => {
    throw engineFailure(what, err);
  });
}

/** Full-jitter backoff between compare-and-set attempts, so nodes racing on one task spread out. */
function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(100, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What a change does to `current`: nothing to store (`task` as it is), or a commit and the task it stores. */
type Step = { task: Task; commit: null } | { task: Task; commit: CommitRequest };

function planChange(current: Task | null, change: TaskChange, extra: CommitRequest['events'], now: number): Step {
  // reduce() throws not_found for a missing task: never a silent create.
  const next = reduce(current, change, now);
  const base = current as Task;
  if (next === null) {
    const stallAt = stallAtOf(base, now);
    // Nothing to store: no events and no deadline to push (only running tasks have one).
    if (extra.length === 0 && stallAt === null) return { task: base, commit: null };
    return { task: base, commit: { task: base, expectedVersion: base.version, events: extra, stallAt } };
  }
  const events = snapshotEvents('task.updated', next);
  return {
    task: next,
    commit: {
      task: next,
      expectedVersion: base.version,
      events: extra.length === 0 ? events : [...events, ...extra],
      stallAt: stallAtOf(next, now),
    },
  };
}

function validateLines(lines: string[]): string[] {
  const problem = firstProblem(LogsBody, { lines });
  if (problem !== null) throw new TaskwireError('bad_request', problem);
  return [...lines];
}

class DefaultTaskService implements TaskService {
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly newId: () => string;
  private readonly maxAttempts: number;
  private readonly sweepBatch: number;
  /** Per task with a change running on this node: the changes waiting for it (see serialized()). */
  private readonly queues = new Map<string, Array<() => void>>();
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;

  constructor(
    private readonly engine: Engine,
    opts: TaskServiceOptions,
  ) {
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
    this.newId = opts.newId ?? newTaskId;
    this.maxAttempts = opts.maxAttempts ?? TUNING.changeAttempts;
    this.sweepBatch = opts.sweepBatch ?? TUNING.stallSweepBatch;
  }

  async create(input: CreateTaskInput, idempotencyKey?: string): Promise<{ task: Task; created: boolean }> {
    if (idempotencyKey !== undefined) {
      const problem = firstProblem(IdempotencyKey, idempotencyKey, 'Idempotency-Key');
      if (problem !== null) throw new TaskwireError('bad_request', problem);
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
          : { idempotency: { key: idempotencyKey, ttlMs: LIMITS.createIdempotencyTtlMs } }),
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

  /**
   * On an engine with synchronous storage, a change to a task with none queued on this
   * node is applied at once (see changeNow); otherwise, and after a lost
   * compare-and-set, it goes through the task's queue and the asynchronous path.
   */
  private change(id: string, change: TaskChange, extra: CommitRequest['events'] = []): Promise<Task> {
    const sync = this.engine.sync;
    if (sync && !this.queues.has(id)) {
      try {
        const task = this.changeNow(sync, id, change, extra);
        if (task) return Promise.resolve(task);
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
    return this.serialized(id, () => this.changeWithRetry(id, change, extra));
  }

  /**
   * Changes to one task from this node run one at a time: they would only make each
   * other lose compare-and-set races. Compare-and-set still arbitrates between nodes.
   * The first change of a task runs at once; later ones wait in its queue, each
   * started when the one before it settles.
   */
  private serialized<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const waiting = this.queues.get(id);
    if (!waiting) {
      this.queues.set(id, []);
      return this.runQueued(id, fn);
    }
    return new Promise<T>((resolve, reject) => {
      waiting.push(() => {
        this.runQueued(id, fn).then(resolve, reject);
      });
    });
  }

  private runQueued<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return attempt(fn).finally(() => {
      const waiting = this.queues.get(id);
      const start = waiting?.shift();
      if (start) start();
      else this.queues.delete(id);
    });
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
      const step = planChange(current, change, extra, this.now());
      if (!step.commit) return step.task;
      const result = await this.commit(step.commit);
      if (result.ok) return step.task;
      if (result.reason === 'duplicate') throw new TaskwireError('internal', 'engine reported a duplicate on update');
    }
    throw new TaskwireError('conflict', `task ${id} is changing too fast; try again`);
  }

  /**
   * The same change in one synchronous step, on an engine with synchronous storage:
   * the new snapshot, or null when compare-and-set lost (another process wrote the
   * task: the caller retries on the asynchronous path, with backoff).
   */
  private changeNow(sync: SyncTaskStore, id: string, change: TaskChange, extra: CommitRequest['events']): Task | null {
    let current: Task | null;
    try {
      current = sync.getTask(id);
    } catch (err) {
      throw engineFailure('getTask', err);
    }
    const step = planChange(current, change, extra, this.now());
    if (!step.commit) return step.task;
    let result: CommitResult;
    try {
      result = sync.commit(step.commit);
    } catch (err) {
      throw engineFailure('commit', err);
    }
    if (result.ok) return step.task;
    if (result.reason === 'duplicate') throw new TaskwireError('internal', 'engine reported a duplicate on update');
    return null;
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
