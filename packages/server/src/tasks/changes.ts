/**
 * How one change reaches the engine: get → reduce() → commit, compare-and-set on
 * `version`, retried with jittered backoff on a lost race; changes to one task from
 * this node queued one after the other; on an engine with synchronous storage, read,
 * reduced and committed in one synchronous step. A change to a child moves its
 * ancestors too, in the same commit or just after it (batches.ts).
 */
import { TaskwireError, reduce, type Task, type TaskChange } from '@taskwire/protocol';
import type { CommitRequest, CommitResult, Engine, SyncTaskStore } from '../engine/types.js';
import { attempt } from '../util/attempt.js';
import type { Batches } from './batches.js';
import {
  NO_WEBHOOKS,
  backoff,
  changeCommit,
  engineFailure,
  stallAtOf,
  viaEngine,
  type WebhookSource,
} from './commits.js';

/** What a change does to `current`: nothing to store (`task` as it is), or a commit and the task it stores. */
type Step = { task: Task; commit: null } | { task: Task; commit: CommitRequest };

export function planChange(
  current: Task | null,
  change: TaskChange,
  extra: CommitRequest['events'],
  now: number,
  webhooks: WebhookSource = NO_WEBHOOKS,
): Step {
  // reduce() throws not_found for a missing task: never a silent create.
  const next = reduce(current, change, now);
  const base = current as Task;
  if (next === null) {
    const stallAt = stallAtOf(base, now);
    // Nothing to store: no events and no deadline to push (only running tasks have one).
    if (extra.length === 0 && stallAt === null) return { task: base, commit: null };
    return { task: base, commit: { task: base, expectedVersion: base.version, events: extra, stallAt } };
  }
  const cause = change.type === 'children' ? 'children' : 'change';
  return { task: next, commit: changeCommit(base, next, now, webhooks, cause, extra) };
}

/** A commit that changes the task's snapshot (so its parent may have to follow), not only appends events. */
const movesParent = (req: CommitRequest): boolean =>
  req.task.parentId !== null && req.task.version !== req.expectedVersion;

export class Changes {
  /** Per task with a change running on this node: the changes waiting for it (see serialized()). */
  private readonly queues = new Map<string, Array<() => void>>();

  constructor(
    private readonly engine: Engine,
    private readonly batches: Batches,
    private readonly now: () => number,
    private readonly maxAttempts: number,
    private readonly webhooks: WebhookSource = NO_WEBHOOKS,
  ) {}

  /**
   * Commit `req` with what it moves: on a synchronous engine its ancestors' commits in
   * the same transaction; otherwise the parent marked first and brought up to date after.
   */
  async commit(req: CommitRequest, holding?: ReadonlySet<string>): Promise<CommitResult> {
    const sync = this.engine.sync;
    if (!movesParent(req)) return viaEngine('commit', () => this.engine.commit(req));
    if (sync) return this.commitNow(sync, req, holding);
    const mark = await this.batches.mark(req.task);
    const result = await viaEngine('commit', () => this.engine.commit(req));
    if (result.ok) await this.batches.refresh(req.task.parentId, mark, holding);
    return result;
  }

  /**
   * On an engine with synchronous storage, a change to a task with none queued on this
   * node is applied at once (see changeNow); otherwise, and after a lost
   * compare-and-set, it goes through the task's queue and the asynchronous path.
   */
  apply(
    id: string,
    change: TaskChange,
    extra: CommitRequest['events'] = [],
    holding?: ReadonlySet<string>,
  ): Promise<Task> {
    const sync = this.engine.sync;
    if (sync && !this.queues.has(id)) {
      try {
        const task = this.changeNow(sync, id, change, extra, holding);
        if (task) return Promise.resolve(task);
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
    return this.serialized(id, () => this.changeWithRetry(id, change, extra, holding));
  }

  /**
   * A change applied in this turn when it can be (an engine with synchronous storage,
   * no change of the task queued on this node, the compare-and-set won): the new
   * snapshot; null when it has to take apply()'s asynchronous path. Throws what apply()
   * would reject with.
   */
  applyNow(id: string, change: TaskChange): Task | null {
    const sync = this.engine.sync;
    if (!sync || this.queues.has(id)) return null;
    return this.changeNow(sync, id, change, [], undefined);
  }

  /** apply() for a caller already inside serialized(id): it must not queue behind itself. */
  applyInTurn(id: string, change: TaskChange): Promise<Task> {
    return this.changeWithRetry(id, change, [], undefined);
  }

  /**
   * Changes to one task from this node run one at a time: they would only make each
   * other lose compare-and-set races. Compare-and-set still arbitrates between nodes.
   * The first change of a task runs at once; later ones wait in its queue, each
   * started when the one before it settles.
   */
  serialized<T>(id: string, fn: () => Promise<T>): Promise<T> {
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
  private async changeWithRetry(
    id: string,
    change: TaskChange,
    extra: CommitRequest['events'],
    holding: ReadonlySet<string> | undefined,
  ): Promise<Task> {
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      if (attempt > 0) await backoff(attempt);
      const current = await viaEngine('getTask', () => this.engine.getTask(id));
      const step = planChange(current, change, extra, this.now(), this.webhooks);
      if (!step.commit) return step.task;
      const result = await this.commit(step.commit, holding);
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
  private changeNow(
    sync: SyncTaskStore,
    id: string,
    change: TaskChange,
    extra: CommitRequest['events'],
    holding: ReadonlySet<string> | undefined,
  ): Task | null {
    let current: Task | null;
    try {
      current = sync.getTask(id);
    } catch (err) {
      throw engineFailure('getTask', err);
    }
    const step = planChange(current, change, extra, this.now(), this.webhooks);
    if (!step.commit) return step.task;
    const result = this.commitNow(sync, step.commit, holding);
    if (result.ok) return step.task;
    if (result.reason === 'duplicate') throw new TaskwireError('internal', 'engine reported a duplicate on update');
    return null;
  }

  /** The commit and its ancestors' in one synchronous transaction. */
  private commitNow(sync: SyncTaskStore, req: CommitRequest, holding: ReadonlySet<string> | undefined): CommitResult {
    try {
      return movesParent(req) ? sync.commitAll([req, ...this.batches.ancestors(sync, req, holding)]) : sync.commit(req);
    } catch (err) {
      throw engineFailure('commit', err);
    }
  }
}
