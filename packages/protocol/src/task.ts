/** The task model of docs/protocol.md §1. */
export const TASK_STATUSES = [
  'queued',
  'running',
  'awaiting_approval',
  'stalled',
  'succeeded',
  'failed',
  'cancelled',
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['succeeded', 'failed', 'cancelled']);

export function isTerminalStatus(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

export function isTaskStatus(value: unknown): value is TaskStatus {
  return typeof value === 'string' && (TASK_STATUSES as readonly string[]).includes(value);
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface TaskError {
  message: string;
  code?: string;
}

export type Decision = 'approve' | 'reject';

/** How a parent task follows its children (docs/protocol.md §1.1 "Batches"). */
export interface BatchOptions {
  /** `children`: the parent's progress is the children's mean; `self`: the parent's worker sets it. */
  progressFrom: 'children' | 'self';
  /** Slots the mean is taken over at least: children not created yet count 0. */
  expectedChildren: number;
  /** `children`: the parent ends when every child has ended (and at least `expectedChildren` exist). */
  completeWhen: 'children' | 'self';
}

/** A parent's children by status; the counts always sum to `total`. */
export interface ChildCounts {
  total: number;
  queued: number;
  running: number;
  stalled: number;
  awaiting_approval: number;
  succeeded: number;
  failed: number;
  cancelled: number;
}

/** The summary of one stream of a task (docs/protocol.md §1.2 "Streams"). */
export interface StreamSummary {
  chunks: number;
  bytes: number;
}

export interface Approval {
  prompt: string;
  options: string[];
  requestedAt: string;
  decision: Decision | null;
  comment: string | null;
  decidedBy: string | null;
  decidedAt: string | null;
}

export interface Task {
  id: string;
  owner: string;
  title: string | null;
  status: TaskStatus;
  progress: number | null;
  stage: string | null;
  message: string | null;
  result: JsonValue | null;
  error: TaskError | null;
  approval: Approval | null;
  meta: Record<string, JsonValue>;
  /** Milliseconds without an update after which a running task is marked stalled; 0 = never. */
  stallTimeoutMs: number;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  version: number;
  /** The parent task, or null for a top-level task. */
  parentId: string | null;
  /** Set once the task is a parent (its first child, or `batch` at creation); null otherwise. */
  batch: BatchOptions | null;
  /** The children by status, kept current from their snapshots; null for a task without children. */
  children: ChildCounts | null;
  /** At most 10 tags of the id grammar (`GET /tasks?tag=`). */
  tags: string[];
  /** Each stream's chunk count and size, kept current without a version change. */
  streams: Record<string, StreamSummary>;
}

/** The fields protocol 1.1 added to Task, with their values for a snapshot stored before them. */
export const TASK_DEFAULTS: Pick<Task, 'parentId' | 'batch' | 'children' | 'tags' | 'streams'> = Object.freeze({
  parentId: null,
  batch: null,
  children: null,
  tags: Object.freeze([]) as unknown as string[],
  streams: Object.freeze({}) as Record<string, StreamSummary>,
});

/** A stored snapshot as a current one: a field a newer protocol added gets its default (engines read with it). */
export function withTaskDefaults(task: Task): Task {
  return task.parentId !== undefined && task.tags !== undefined && task.streams !== undefined
    ? task
    : { ...TASK_DEFAULTS, ...task };
}

/** The `data` of events on task and user channels. */
export type TaskEventData =
  | { kind: 'task.created'; task: Task }
  | { kind: 'task.updated'; task: Task }
  | { kind: 'task.log'; taskId: string; lines: string[] }
  /** One chunk of a task's stream (protocol 1.1 §8): `index` is its 0-based number in the stream. */
  | { kind: 'task.stream'; taskId: string; stream: string; index: number; text: string }
  /**
   * The task was deleted (protocol 1.1 §8, retention): on `user:<owner>`, stored like any
   * event. On `task:<id>` it is never stored or delivered: the server ends the
   * subscription with `unsubscribed`, `reason: "deleted"`.
   */
  | { kind: 'task.deleted'; taskId: string };

/** The events that carry a snapshot. */
export type TaskSnapshotEvent = Extract<TaskEventData, { task: Task }>;

/** True for `task.created` and `task.updated`: the events that carry the task's snapshot. */
export function isSnapshotEvent(data: TaskEventData): data is TaskSnapshotEvent {
  return data.kind === 'task.created' || data.kind === 'task.updated';
}

export function isTaskEventData(data: unknown): data is TaskEventData {
  if (typeof data !== 'object' || data === null) return false;
  const kind = (data as { kind?: unknown }).kind;
  return (
    kind === 'task.created' ||
    kind === 'task.updated' ||
    kind === 'task.log' ||
    kind === 'task.stream' ||
    kind === 'task.deleted'
  );
}

/**
 * Freeze a JSON value and everything in it, in place; already-frozen parts are
 * skipped, so freezing a snapshot that shares frozen parts with its predecessor
 * only walks what is new. Task snapshots are immutable values: reduce() returns
 * them frozen, and engines may hand the same object to every reader.
 */
export function freezeDeep<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  // A walk with its own stack, not recursion: a deeply nested value cannot overflow the call stack.
  const pending: object[] = [value];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    Object.freeze(next);
    const children: unknown[] = Array.isArray(next) ? next : Object.values(next);
    for (const child of children) {
      if (typeof child === 'object' && child !== null && !Object.isFrozen(child)) pending.push(child);
    }
  }
  return value;
}
