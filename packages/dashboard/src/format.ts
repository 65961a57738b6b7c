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

/** A batch's counts in words, for its row and detail: `7 / 12 done · 1 failed · 3 running · 1 to come`. */
export function batchSummary(task: Task): string | null {
  const c = task.children;
  if (!c && !task.batch) return null;
  const counts = c ?? {
    total: 0,
    queued: 0,
    running: 0,
    stalled: 0,
    awaiting_approval: 0,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
  };
  const expected = task.batch?.expectedChildren ?? 0;
  const parts = [`${counts.succeeded} / ${Math.max(counts.total, expected)} done`];
  const more: [number, string][] = [
    [counts.failed, 'failed'],
    [counts.cancelled, 'cancelled'],
    [counts.stalled, 'stalled'],
    [counts.awaiting_approval, 'need approval'],
    [counts.running, 'running'],
    [counts.queued, 'queued'],
    [expected - counts.total, 'to come'],
  ];
  for (const [n, label] of more) if (n > 0) parts.push(`${n} ${label}`);
  return parts.join(' · ');
}

/** A batch's options in words (its `batch`, defaults filled in by the server). */
export function batchOptions(task: Task): string[] {
  const b = task.batch;
  if (!b) return [];
  const slots = b.expectedChildren > 0 ? ` (over at least ${b.expectedChildren} children)` : '';
  return [
    b.progressFrom === 'children'
      ? `Progress is the mean of its children’s${slots}; a child not created yet counts 0.`
      : 'Progress is reported by its own worker.',
    b.completeWhen === 'children'
      ? `It ends by itself once every child has ended${b.expectedChildren > 0 ? ` and ${b.expectedChildren} exist` : ''}: done when all succeeded, else failed.`
      : 'Its own worker ends it.',
  ];
}

/** Children that have not ended, with theirs when known (a cancel takes them all). */
export function unfinished(task: Task, children: readonly Task[] = []): number {
  const c = task.children;
  if (!c) return 0;
  let n = c.total - c.succeeded - c.failed - c.cancelled;
  for (const child of children) if (child.children) n += unfinished(child);
  return n;
}

/** `812 B`, `2.4 KB`, `1.2 MB` (1 KB = 1024 B). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** The UTF-8 size of a string, without encoding it. */
export function utf8Bytes(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** What a cancel asks: a batch's cancel takes every unfinished child with it. */
export function cancelQuestion(task: Task, children: readonly Task[] = []): string {
  const n = unfinished(task, children);
  const also = n > 0 ? ` It also cancels ${n === 1 ? 'its 1 unfinished child' : `its ${n} unfinished children`}.` : '';
  return `Cancel task ${task.id}?${also}`;
}
