/**
 * The batch half of the task service: a parent follows its children (reduce()'s
 * `children` change, a pure function of their snapshots), and so does its own parent,
 * up to MAX_BATCH_DEPTH levels.
 *
 * How a parent's update is committed with its child's (docs/engines.md "Batches"):
 * - on an engine with synchronous storage (memory, SQLite), the child's commit and
 *   every ancestor's that changes are one `commitAll`: one transaction, all or none;
 * - on the others (Redis, where a parent may live on another shard), two steps: the
 *   parent is marked (`Engine.pendingParents`), the child committed, then the parent
 *   brought up to date from its children's snapshots with compare-and-set (retried
 *   on a lost race), and the mark cleared. The stall sweep brings up to date the
 *   parents whose mark is old (the node between the two steps died). A child's
 *   change and its parent's are each exactly once in the log; the parent's last
 *   snapshot is always the function of its children's last ones.
 */
import { MAX_BATCH_DEPTH, MAX_CHILDREN, TaskwireError, isTerminalStatus, reduce, type Task } from '@taskwire/protocol';
import type { Logger } from 'pino';
import type { CommitRequest, CommitResult, Engine, SyncTaskStore } from '../engine/types.js';
import { NO_WEBHOOKS, backoff, changeCommit, viaEngine, type WebhookSource } from './commits.js';

/** A parent marked this long ago whose mark is still there is brought up to date by the sweep. */
export const PENDING_PARENT_AGE_MS = 2000;

/** A parent's commit request after one of its children changed (`changed` replaces or joins the others). */
export function followUp(
  parent: Task,
  children: readonly Task[],
  changed: Task,
  now: number,
  hold = false,
  webhooks: WebhookSource = NO_WEBHOOKS,
): CommitRequest | null {
  const all = children.some((c) => c.id === changed.id)
    ? children.map((c) => (c.id === changed.id ? changed : c))
    : [...children, changed];
  const next = reduce(parent, { type: 'children', children: all, hold }, now);
  return next === null ? null : changeCommit(parent, next, now, webhooks, 'children');
}

/** What a parent's refresh did: its own parent, and the mark made there (null: nothing changed). */
interface Refreshed {
  parentId: string | null;
  mark: number | null;
}
const UNCHANGED: Refreshed = Object.freeze({ parentId: null, mark: null });
interface Flight {
  running: Promise<Refreshed>;
  queued: Promise<Refreshed> | null;
}
const noop = (): void => undefined;

export class Batches {
  private readonly flights = new Map<string, Flight>();

  constructor(
    private readonly engine: Engine,
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly maxAttempts: number,
    private readonly webhooks: WebhookSource = NO_WEBHOOKS,
  ) {}

  /** The parent a new task names, checked: same owner (400), present (404), not ended (409), not too deep (400). */
  async parentFor(owner: string, parentId: string): Promise<Task> {
    const parent = await this.get(parentId);
    if (parent === null) throw new TaskwireError('not_found', `parent task ${parentId} not found`);
    if (parent.owner !== owner)
      throw new TaskwireError('bad_request', 'a child must have the same owner as its parent');
    if (isTerminalStatus(parent.status)) {
      throw new TaskwireError('conflict', `parent task ${parentId} is ${parent.status}; it takes no new children`);
    }
    let depth = 2;
    for (let up = parent; up.parentId !== null; depth++) {
      if (depth >= MAX_BATCH_DEPTH) {
        throw new TaskwireError('bad_request', `batches nest at most ${MAX_BATCH_DEPTH} levels deep`);
      }
      const next = await this.get(up.parentId);
      if (next === null) break;
      up = next;
    }
    if (parent.children !== null && parent.children.total >= MAX_CHILDREN) {
      throw new TaskwireError('limit_exceeded', `a task has at most ${MAX_CHILDREN} children`);
    }
    return parent;
  }

  /**
   * Synchronous engines: the commits that go with `req` (a child's), one per ancestor
   * that changes, nearest first. Read and computed in the same synchronous step as the
   * child's own, so nothing can change in between on this node.
   */
  ancestors(sync: SyncTaskStore, req: CommitRequest, holding?: ReadonlySet<string>): CommitRequest[] {
    const out: CommitRequest[] = [];
    let changed = req.task;
    const now = this.now();
    for (let depth = 0; changed.parentId !== null && depth < MAX_BATCH_DEPTH; depth++) {
      const parent = sync.getTask(changed.parentId);
      if (parent === null) break;
      const hold = holding?.has(parent.id) === true;
      const up = followUp(parent, sync.children(parent.id), changed, now, hold, this.webhooks);
      if (up === null) break;
      out.push(up);
      changed = up.task;
    }
    return out;
  }

  /** Two-step engines: mark a task's parent before the task is committed; the mark, or null when none was made. */
  async mark(task: Task): Promise<number | null> {
    const pending = this.engine.pendingParents;
    const parentId = task.parentId;
    if (!pending || parentId === null) return null;
    const mark = this.now();
    await viaEngine('pendingParents.mark', () => pending.mark(parentId, mark));
    return mark;
  }

  /**
   * Two-step engines: after a child's commit, bring its parent (and theirs, while
   * they change) up to date from the children's snapshots, with compare-and-set.
   * Failures are logged, not thrown: the child's commit stands, and the parent's
   * mark makes the sweep finish the job.
   */
  async refresh(parentId: string | null, mark: number | null, holding?: ReadonlySet<string>): Promise<void> {
    const pending = this.engine.pendingParents;
    for (let id = parentId, at = mark, depth = 0; id !== null && depth < MAX_BATCH_DEPTH; depth++) {
      try {
        const up = holding?.has(id) === true ? await this.refreshOne(id, true) : await this.shared(id);
        // Only our own mark: one renewed since belongs to a change this refresh may not have seen.
        if (pending && at !== null) await pending.clear(id, at);
        id = up.parentId;
        at = up.mark;
      } catch (err) {
        this.logger.warn({ err, taskId: id }, 'a batch parent could not be brought up to date yet (the sweep retries)');
        return;
      }
    }
  }

  /** The sweep: parents marked long ago (a node died between the two steps). */
  async sweep(): Promise<number> {
    const pending = this.engine.pendingParents;
    if (!pending) return 0;
    const due = await viaEngine('pendingParents.due', () => pending.due(this.now() - PENDING_PARENT_AGE_MS, 100));
    for (const { id, mark } of due) {
      try {
        await this.refreshOne(id);
        await pending.clear(id, mark);
      } catch (err) {
        this.logger.warn({ err, taskId: id }, 'sweep: a batch parent could not be brought up to date');
      }
    }
    return due.length;
  }

  /**
   * refreshOne(id), shared by the callers on this node: while one runs, callers join
   * the one queued to run after it (which reads every child committed before they
   * called), so a parent has at most one refresh running and one waiting per node,
   * not one per child change racing the others' compare-and-set.
   */
  private shared(id: string): Promise<Refreshed> {
    const flight = this.flights.get(id);
    if (flight) {
      flight.queued ??= flight.running.then(noop, noop).then(() => this.fly(id, flight));
      return flight.queued;
    }
    const fresh: Flight = { running: Promise.resolve(UNCHANGED), queued: null };
    this.flights.set(id, fresh);
    return this.fly(id, fresh);
  }

  private fly(id: string, flight: Flight): Promise<Refreshed> {
    const running = this.refreshOne(id);
    flight.running = running;
    flight.queued = null;
    void running
      .finally(() => {
        if (flight.running === running && flight.queued === null) this.flights.delete(id);
      })
      .catch(noop);
    return running;
  }

  /** One parent from its children, compare-and-set, retried; when it changed, its own parent and the mark made there. */
  private async refreshOne(id: string, hold = false): Promise<Refreshed> {
    const unchanged = UNCHANGED;
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      if (attempt > 0) await backoff(attempt);
      const parent = await this.get(id);
      if (parent === null) return unchanged;
      const children = await viaEngine('children', () => this.engine.children(id));
      const next = reduce(parent, { type: 'children', children, hold }, this.now());
      if (next === null) return unchanged;
      const mark = await this.mark(next);
      const req = changeCommit(parent, next, this.now(), this.webhooks, 'children');
      const result: CommitResult = await viaEngine('commit', () => this.engine.commit(req));
      if (result.ok) return { parentId: next.parentId, mark };
    }
    throw new TaskwireError('conflict', `batch ${id} is changing too fast; the sweep brings it up to date`);
  }

  private get(id: string): Promise<Task | null> {
    return viaEngine('getTask', () => this.engine.getTask(id));
  }
}
