/** Pure helpers for the task views: durations, the rough ETA, status labels. */
import type { Task, TaskStatus } from '@taskwire/client';

export const STATUSES: readonly TaskStatus[] = [
  'queued',
  'running',
  'stalled',
  'awaiting_approval',
  'succeeded',
  'failed',
  'cancelled',
];

export const STATUS_LABEL: Record<TaskStatus, string> = {
  queued: 'queued',
  running: 'running',
  stalled: 'stalled',
  awaiting_approval: 'needs approval',
  succeeded: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
};

export const isTerminal = (status: TaskStatus): boolean =>
  status === 'succeeded' || status === 'failed' || status === 'cancelled';

/** `42s`, `3m 05s`, `2h 10m`, `3d 4h`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** How long the task has run: from its start (or creation) to its end, or to now. */
export function elapsedMs(task: Task, now: number): number {
  const start = Date.parse(task.startedAt ?? task.createdAt);
  const end = task.finishedAt ? Date.parse(task.finishedAt) : now;
  return Math.max(0, end - start);
}

/**
 * A rough ETA from the average progress rate since the start: a running task at
 * p % after t ms needs about t × (100 − p) / p more. Null when there is no rate
 * to go by (not running, no progress, or done).
 */
export function etaMs(task: Task, now: number): number | null {
  const p = task.progress;
  if (task.status !== 'running' || p === null || p <= 0 || p >= 100 || !task.startedAt) return null;
  const spent = now - Date.parse(task.startedAt);
  if (!(spent > 0)) return null;
  return (spent * (100 - p)) / p;
}

/** `14:03:22` (today) or `Nov 22, 14:03`. */
export function formatTime(iso: string | number): string {
  const d = new Date(iso);
  const sameDay = new Date().toDateString() === d.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour12: false })
    : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false });
}

/** Newest update first, ties by id, so the list never jumps between equal times. */
export function byUpdated(a: Task, b: Task): number {
  if (a.updatedAt !== b.updatedAt) return a.updatedAt < b.updatedAt ? 1 : -1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
