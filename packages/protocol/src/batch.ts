/**
 * Batches (docs/protocol.md §1.1): a parent task follows its children. Everything a
 * parent shows of them is a pure function of their snapshots: the counts by status,
 * the progress (`progressFrom: "children"`: the mean over `max(total,
 * expectedChildren)` slots, a finished child counting 100 and one without progress
 * 0) and, with `completeWhen: "children"`, its end. reduce() applies it as the
 * `children` change, so a parent changes only through reduce().
 */
import {
  isTerminalStatus,
  type BatchOptions,
  type ChildCounts,
  type Task,
  type TaskError,
  type TaskStatus,
} from './task.js';

/** A task, its parent, and so on: at most 4 levels. */
export const MAX_BATCH_DEPTH = 4;

/** Children one parent may have. */
export const MAX_CHILDREN = 10_000;

export const DEFAULT_BATCH: BatchOptions = Object.freeze({
  progressFrom: 'children',
  expectedChildren: 0,
  completeWhen: 'self',
});

const NO_CHILDREN: ChildCounts = Object.freeze({
  total: 0,
  queued: 0,
  running: 0,
  stalled: 0,
  awaiting_approval: 0,
  succeeded: 0,
  failed: 0,
  cancelled: 0,
});

/** The counts of `children` by status. */
export function countChildren(children: readonly Task[]): ChildCounts {
  const counts: ChildCounts = { ...NO_CHILDREN };
  for (const child of children) {
    counts.total += 1;
    counts[child.status] += 1;
  }
  return counts;
}

/** What one child adds to its parent's progress: 100 once it has ended, 0 without progress. */
export function childProgress(child: Task): number {
  return isTerminalStatus(child.status) ? 100 : (child.progress ?? 0);
}

/** The parent's progress from its children: the mean over `max(total, expectedChildren)` slots, to 2 decimals. */
export function progressOfChildren(children: readonly Task[], batch: BatchOptions): number | null {
  const slots = Math.max(children.length, batch.expectedChildren);
  if (slots === 0) return null;
  let sum = 0;
  for (const child of children) sum += childProgress(child);
  return Math.round((sum / slots) * 100) / 100;
}

/**
 * How a parent with `completeWhen: "children"` ends: null while a child runs, fewer
 * than `expectedChildren` exist or none does; `succeeded` when every child
 * succeeded, `cancelled` when every one was cancelled, else `failed` (a cancelled
 * child counts as failed) with `children_failed`.
 */
export function endOfChildren(
  counts: ChildCounts,
  batch: BatchOptions,
): { status: TaskStatus; error: TaskError | null } | null {
  const ended = counts.succeeded + counts.failed + counts.cancelled;
  if (counts.total === 0 || ended < counts.total || counts.total < batch.expectedChildren) return null;
  if (counts.succeeded === counts.total) return { status: 'succeeded', error: null };
  if (counts.cancelled === counts.total) return { status: 'cancelled', error: null };
  const failed = counts.failed + counts.cancelled;
  return {
    status: 'failed',
    error: { code: 'children_failed', message: `${failed} of ${counts.total} children failed` },
  };
}

const sameCounts = (a: ChildCounts | null, b: ChildCounts): boolean =>
  a !== null && (Object.keys(b) as Array<keyof ChildCounts>).every((k) => a[k] === b[k]);

/**
 * The parent after its children (every direct child's current snapshot): null when
 * nothing changes. A queued or stalled parent becomes `running` once a child runs or
 * has run (any status but queued and cancelled). A parent that has ended keeps its status and progress; its counts still
 * follow. With `hold` (a cancel of the parent under way) it does not end by them.
 */
export function followChildren(parent: Task, children: readonly Task[], hold = false): Task | null {
  const batch = parent.batch ?? DEFAULT_BATCH;
  const counts = countChildren(children);
  const next: Task = { ...parent, batch, children: counts };
  let changed = parent.batch === null || !sameCounts(parent.children, counts);
  if (!isTerminalStatus(parent.status)) {
    if (batch.progressFrom === 'children') {
      const progress = progressOfChildren(children, batch);
      if (progress !== parent.progress) {
        next.progress = progress;
        changed = true;
      }
    }
    // Work has begun once a child runs or has run: a queued (or stalled) parent runs (again).
    if (
      (parent.status === 'queued' || parent.status === 'stalled') &&
      counts.total > counts.queued + counts.cancelled
    ) {
      next.status = 'running';
      changed = true;
    }
    const end = batch.completeWhen === 'children' && !hold ? endOfChildren(counts, batch) : null;
    if (end) {
      next.status = end.status;
      next.error = end.error;
      if (end.status === 'succeeded') next.progress = 100;
      changed = true;
    }
  }
  return changed ? next : null;
}
