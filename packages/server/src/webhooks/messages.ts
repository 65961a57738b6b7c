/**
 * Which webhook events a change causes (pure), and the outbox messages for them: one
 * per event type and endpoint, with its body as signed and sent. The task service
 * asks for them with every commit (tasks/commits.ts changeCommit), so the messages
 * are stored with the change that caused them.
 */
import { isTerminalStatus, type Task, type WebhookEventType, type WebhookPayload } from '@taskwire/protocol';
import type { OutboxMessage } from '../engine/types.js';
import type { WebhookSource } from '../tasks/commits.js';
import { randomBase62 } from '../util/random-id.js';
import type { WebhookSettings } from '../config/webhook-settings.js';

const END_EVENT: Partial<Record<Task['status'], WebhookEventType>> = {
  succeeded: 'task.succeeded',
  failed: 'task.failed',
  cancelled: 'task.cancelled',
};

/** The event types of `prev` → `next`, in this order; `children`: the parent followed its children. */
export function webhookEvents(prev: Task, next: Task, cause: 'change' | 'children'): WebhookEventType[] {
  const out: WebhookEventType[] = [];
  const pending = (t: Task): boolean => t.approval !== null && t.approval.decision === null;
  if (pending(prev) && next.approval?.decision != null) out.push('task.approval_decided');
  if (pending(next) && (!pending(prev) || prev.approval?.requestedAt !== next.approval?.requestedAt)) {
    out.push('task.approval_requested');
  }
  if (next.status !== prev.status) {
    if (next.status === 'stalled') out.push('task.stalled');
    const end = END_EVENT[next.status];
    if (end !== undefined) out.push(end);
    if (cause === 'children' && isTerminalStatus(next.status) && next.batch?.completeWhen === 'children') {
      out.push('batch.completed');
    }
  }
  return out;
}

/** `msg_` + 24 random base62 characters. */
export const newMessageId = (): string => `msg_${randomBase62(24)}`;

/** The source of outbox messages for `settings` (every endpoint, the chosen event types). */
export function webhookSource(settings: WebhookSettings, newId: () => string = newMessageId): WebhookSource {
  return (prev, next, cause) => {
    const types = webhookEvents(prev, next, cause).filter((t) => settings.events.has(t));
    if (types.length === 0) return [];
    const createdAt = Date.parse(next.updatedAt);
    const out: OutboxMessage[] = [];
    for (const type of types) {
      const payload: WebhookPayload = { type, timestamp: next.updatedAt, data: { task: next } };
      const body = JSON.stringify(payload);
      for (const endpoint of settings.endpoints) {
        out.push({ id: newId(), endpoint, taskId: next.id, type, body, createdAt });
      }
    }
    return out;
  };
}
