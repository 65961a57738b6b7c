/**
 * Webhooks (protocol 1.1 §8): what taskwire tells a backend, in the Standard Webhooks
 * format. The event types, and the body every request carries.
 */
import type { Task } from './task.js';

export const WEBHOOK_EVENT_TYPES = [
  'task.approval_requested',
  'task.approval_decided',
  'task.cancelled',
  'task.stalled',
  'task.succeeded',
  'task.failed',
  'batch.completed',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const isWebhookEventType = (s: string): s is WebhookEventType =>
  (WEBHOOK_EVENT_TYPES as readonly string[]).includes(s);

/** The JSON body of a webhook request. */
export interface WebhookPayload {
  type: WebhookEventType;
  /** When the change was made, ISO 8601. */
  timestamp: string;
  data: { task: Task };
}
