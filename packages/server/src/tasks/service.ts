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
  MAX_BATCH_DEPTH,
  isTerminalStatus,
  reduce,
  taskChannel,
  type Task,
  type TaskChange,
  type TaskEventData,
} from '@taskwire/protocol';
import { TUNING, defaultOf } from '../config/options.js';
import { Batches } from './batches.js';
import { Changes } from './changes.js';
import { Retention } from './retention.js';
import { Streams } from './streams.js';
import { NO_WEBHOOKS, changeCommit, snapshotEvents, stallAtOf, viaEngine, type WebhookSource } from './commits.js';
import { newTaskId } from '../util/random-id.js';
import type { Engine } from '../engine/types.js';
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
  /** Bytes one stream may hold (default: the `--stream-max-bytes` default). */
  streamMaxBytes?: number;
  /** The webhook messages each change causes, stored with it (default: none). */
  webhooks?: WebhookSource;
  /** A task terminal for longer than this is deleted with its tree, ms; 0 = never (default: the `--task-ttl` default). */
  taskTtlMs?: number;
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
  private readonly batches: Batches;
  private readonly changes: Changes;
  private readonly streams: Streams;
  private readonly webhooks: WebhookSource;
  private readonly retention: Retention;
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
    this.webhooks = opts.webhooks ?? NO_WEBHOOKS;
    this.batches = new Batches(engine, this.logger, this.now, this.maxAttempts, this.webhooks);
    this.changes = new Changes(engine, this.batches, this.now, this.maxAttempts, this.webhooks);
    const streamMaxBytes = opts.streamMaxBytes ?? defaultOf('streamMaxBytes');
    this.streams = new Streams(engine, this.changes, this.now, this.maxAttempts, streamMaxBytes);
    const ttl = opts.taskTtlMs ?? defaultOf('taskTtlMs');
    this.retention = new Retention(engine, this.logger, this.now, ttl);
  }

  async create(input: CreateTaskInput, idempotencyKey?: string): Promise<{ task: Task; created: boolean }> {
    if (idempotencyKey !== undefined) {
      const problem = firstProblem(IdempotencyKey, idempotencyKey, 'Idempotency-Key');
      if (problem !== null) throw new TaskwireError('bad_request', problem);
      const known = await viaEngine('lookupIdempotency', () => this.engine.lookupIdempotency(idempotencyKey));
      if (known !== null) return { task: await this.existing(known), created: false };
    }
    if (input.parentId !== undefined) await this.batches.parentFor(input.owner, input.parentId);
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const id = input.id ?? this.newId();
      const change: TaskChange = { type: 'create', ...input, id };
      const task = reduce(null, change, this.now()) as Task;
      const result = await this.changes.commit({
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
    return this.changes.apply(id, { type: 'update', ...input });
  }

  updateNow(id: string, input: UpdateTaskInput): Task | null {
    return this.changes.applyNow(id, { type: 'update', ...input });
  }

  async appendLogs(id: string, lines: string[]): Promise<Task> {
    const valid = validateLines(lines);
    const data: TaskEventData = { kind: 'task.log', taskId: id, lines: valid };
    return await this.changes.apply(id, { type: 'activity' }, [{ channel: taskChannel(id), data }]);
  }

  appendStream(id: string, text: string, stream?: string, index?: number): Promise<{ stream: string; chunks: number }> {
    return this.streams.append(id, text, stream, index);
  }

  readStream(id: string, stream: string): Promise<{ stream: string; text: string; chunks: number }> {
    return this.streams.read(id, stream);
  }

  requestApproval(id: string, prompt: string, options?: string[]): Promise<Task> {
    return this.changes.apply(
      id,
      options === undefined ? { type: 'request_approval', prompt } : { type: 'request_approval', prompt, options },
    );
  }

  decide(id: string, decision: 'approve' | 'reject', comment: string | null | undefined, by: string): Promise<Task> {
    return this.changes.apply(id, { type: 'decide', decision, comment: comment ?? null, by });
  }

  /** A parent's cancel cancels every descendant still running first (one update each), then the parent. */
  async cancel(id: string): Promise<Task> {
    const task = await this.get(id);
    if (task === null) throw new TaskwireError('not_found', 'task not found');
    if (task.children === null || isTerminalStatus(task.status)) return this.changes.apply(id, { type: 'cancel' });
    const holding = new Set<string>();
    await this.cancelDescendants(task, holding, 0);
    return this.changes.apply(id, { type: 'cancel' }, [], holding);
  }

  /** Cancel every non-terminal descendant of `parent`, deepest first; parents on the way do not end by their children. */
  private async cancelDescendants(parent: Task, holding: Set<string>, depth: number): Promise<void> {
    if (depth >= MAX_BATCH_DEPTH) return;
    holding.add(parent.id);
    const children = await viaEngine('children', () => this.engine.children(parent.id));
    for (const child of children) {
      if (isTerminalStatus(child.status)) continue;
      if (child.children !== null) await this.cancelDescendants(child, holding, depth + 1);
      try {
        await this.changes.apply(child.id, { type: 'cancel' }, [], holding);
      } catch (err) {
        // Ended meanwhile (its worker finished it): nothing left to cancel.
        if (!(err instanceof TaskwireError && err.code === 'conflict')) throw err;
      }
    }
  }

  delete(id: string): Promise<{ taskId: string; deleted: number }> {
    return this.retention.delete(id);
  }

  sweepExpired(now?: number): Promise<number> {
    return this.retention.sweep(now);
  }

  get(id: string): Promise<Task | null> {
    return viaEngine('getTask', () => this.engine.getTask(id));
  }

  list(req: {
    owner?: string;
    status?: Task['status'];
    parent?: string;
    tag?: string;
    limit: number;
    cursor?: string;
  }) {
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
    this.retention.start();
    this.timer = setInterval(() => {
      // One sweep at a time: a slow engine must not pile sweeps up.
      if (this.sweeping) return;
      this.sweeping = this.sweepStalls()
        .then(async (n) => {
          if (n > 0) this.logger.info({ stalled: n }, 'marked tasks as stalled');
          await this.batches.sweep();
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
    await Promise.all([this.sweeping, this.retention.stop()]);
  }

  /** Mark one due task stalled. A CAS conflict means a worker or another node got there first: skip. */
  private async markStalled(task: Task, now: number): Promise<boolean> {
    if (task.status !== 'running') {
      // A deadline left on a task that is no longer running (should not happen): clear it so it stops coming back.
      await this.changes.commit({ task, expectedVersion: task.version, events: [], stallAt: null });
      return false;
    }
    const next = reduce(task, { type: 'stall' }, now) as Task;
    const result = await this.changes.commit(changeCommit(task, next, now, this.webhooks, 'change'));
    if (!result.ok) this.logger.debug({ taskId: task.id }, 'stall mark lost a race; skipped');
    return result.ok;
  }

  /**
   * The task an idempotency key points at. A task's key is deleted with it, so a miss
   * is a race with its deletion (or, on Redis, a node that died between the two steps).
   */
  private async existing(id: string): Promise<Task> {
    const task = await viaEngine('getTask', () => this.engine.getTask(id));
    if (!task) throw new TaskwireError('conflict', `the task of this Idempotency-Key (${id}) was deleted`);
    return task;
  }
}

export function createTaskService(engine: Engine, opts: TaskServiceOptions): TaskService {
  return new DefaultTaskService(engine, opts);
}
