/**
 * What every task commit is made of: the events of a snapshot change, the stall
 * deadline, the mapping of engine failures, the backoff between compare-and-set
 * attempts. Shared by the task service and its batch half.
 */
import {
  TaskwireError,
  isTaskwireError,
  taskChannel,
  userChannel,
  type Task,
  type TaskEventData,
} from '@taskwire/protocol';
import type { CommitRequest, OutboxMessage } from '../engine/types.js';
import { attempt } from '../util/attempt.js';

/** The webhook messages a change causes (none without endpoints); `children`: the parent followed its children. */
export type WebhookSource = (prev: Task, next: Task, cause: 'change' | 'children') => OutboxMessage[];

export const NO_WEBHOOKS: WebhookSource = () => [];

/**
 * The commit of a snapshot change `prev` → `next`: its events (then `extra`), its stall
 * deadline and the webhook messages it causes, stored with it.
 */
export function changeCommit(
  prev: Task,
  next: Task,
  now: number,
  webhooks: WebhookSource,
  cause: 'change' | 'children',
  extra: CommitRequest['events'] = [],
): CommitRequest {
  const events = snapshotEvents('task.updated', next);
  const messages = webhooks(prev, next, cause);
  return {
    task: next,
    expectedVersion: prev.version,
    events: extra.length === 0 ? events : [...events, ...extra],
    stallAt: stallAtOf(next, now),
    ...(messages.length > 0 ? { webhooks: messages } : {}),
  };
}

/** The snapshot whose events were made last, and its JSON text (snapshots are frozen: the text stays true). */
const last: { task: Task | null; json: string } = { task: null, json: '' };

/**
 * `JSON.stringify(value)`, taken from the events' text when `value` is the snapshot
 * whose events were made last: an HTTP answer with the snapshot a change just
 * committed (create, update, cancel, …) serializes it once, not twice.
 */
export function jsonOfSnapshot(value: unknown): string {
  return value !== null && value === last.task ? last.json : JSON.stringify(value);
}

/**
 * Events of a snapshot change: mirrored on the task's channel and its owner's, with
 * the one JSON text of their data (engines store it, the Hub sends it as it is).
 */
export function snapshotEvents(kind: 'task.created' | 'task.updated', task: Task): CommitRequest['events'] {
  const data: TaskEventData = { kind, task };
  // The same text as JSON.stringify(data): `kind` needs no escaping.
  const taskJson = JSON.stringify(task);
  const json = `{"kind":"${kind}","task":${taskJson}}`;
  last.task = task;
  last.json = taskJson;
  return [
    { channel: taskChannel(task.id), data, json },
    { channel: userChannel(task.owner), data, json },
  ];
}

/**
 * A running task must report within its stall timeout; any other status has no
 * deadline, nor has a parent that ends by its children (its children are its
 * workers: their own stalls show in its counts).
 */
export function stallAtOf(task: Task, now: number): number | null {
  if (task.status !== 'running' || task.stallTimeoutMs <= 0) return null;
  return task.batch?.completeWhen === 'children' ? null : now + task.stallTimeoutMs;
}

/** Engine failures (anything that is not a TaskwireError) become `unavailable`, cause kept. */
export function engineFailure(what: string, err: unknown): Error {
  if (isTaskwireError(err)) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new TaskwireError('unavailable', `engine ${what} failed: ${detail}`, { cause: err });
}

/** One engine call, its failure mapped by engineFailure (no `async` frame: this is on every update's path). */
export function viaEngine<T>(what: string, fn: () => Promise<T>): Promise<T> {
  return attempt(fn).catch((err: unknown) => {
    throw engineFailure(what, err);
  });
}

/** Full-jitter backoff between compare-and-set attempts, so nodes racing on one task spread out. */
export function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(100, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}
