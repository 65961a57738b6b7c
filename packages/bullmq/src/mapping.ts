/**
 * What each queue event means for the job's task: a pure function from the event
 * (name and QueueEvents arguments) to an action the writer applies.
 *
 * | event | action |
 * |---|---|
 * | `added` | create the task (`queued`) |
 * | `waiting` after `active` | a retry: stays `running`, message "retrying" |
 * | `delayed` | read first: a queued task says "delayed until …", a running one "retrying at …" |
 * | `active` | `running` |
 * | `progress` | `progress` (a number, or `{pct \| progress, stage, message}`) |
 * | `completed` | `succeeded` with the return value as `result` |
 * | `failed` (the last attempt) | `failed` with the failed reason |
 * | `stalled` | stays `running`, message "stalled …" (BullMQ moved it back to wait) |
 * | `removed` | `cancelled` |
 */
import type { UpdateFields } from '@taskwire/client/backend';
import { LIMITS, type JsonValue } from '@taskwire/protocol';

/** The QueueEvents events the bridge listens to. */
export const BRIDGED_EVENTS = [
  'added',
  'waiting',
  'delayed',
  'active',
  'progress',
  'completed',
  'failed',
  'stalled',
  'removed',
] as const;
export type BridgedEvent = (typeof BRIDGED_EVENTS)[number];

export type Action =
  | { kind: 'create' }
  | { kind: 'update'; fields: UpdateFields }
  | { kind: 'finish'; fields: UpdateFields & { status: 'succeeded' | 'failed' | 'cancelled' } }
  | { kind: 'delayed'; until: number };

export const RETRY_MESSAGE = 'retrying';
export const STALLED_MESSAGE = 'stalled: its worker stopped renewing the lock; back in the queue';

export function actionFor(event: BridgedEvent, args: Record<string, unknown>): Action | null {
  switch (event) {
    case 'added':
      return { kind: 'create' };
    case 'waiting':
      return args.prev === 'active' ? { kind: 'update', fields: { message: RETRY_MESSAGE } } : null;
    case 'delayed':
      return { kind: 'delayed', until: Number(args.delay) };
    case 'active':
      return { kind: 'update', fields: { status: 'running' } };
    case 'progress': {
      const fields = progressFields(args.data);
      return fields ? { kind: 'update', fields } : null;
    }
    case 'completed':
      return { kind: 'finish', fields: { status: 'succeeded', result: toJson(args.returnvalue) } };
    case 'failed': {
      const reason = typeof args.failedReason === 'string' && args.failedReason ? args.failedReason : 'job failed';
      return {
        kind: 'finish',
        fields: { status: 'failed', error: { message: clip(reason, LIMITS.errorMessageChars) } },
      };
    }
    case 'stalled':
      return { kind: 'update', fields: { message: STALLED_MESSAGE } };
    case 'removed':
      return { kind: 'finish', fields: { status: 'cancelled', message: 'removed' } };
  }
}

/** `job.updateProgress(value)`: a number (percent), or an object with `pct` or `progress`, `stage`, `message`. */
export function progressFields(data: unknown): UpdateFields | null {
  const fields: UpdateFields = {};
  const obj =
    typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : null;
  const pct = obj ? (obj.pct ?? obj.progress) : data;
  if (typeof pct === 'number' && Number.isFinite(pct)) fields.progress = Math.min(100, Math.max(0, pct));
  if (obj && 'stage' in obj) fields.stage = text(obj.stage, LIMITS.stageChars);
  if (obj && 'message' in obj) fields.message = text(obj.message, LIMITS.messageChars);
  return Object.keys(fields).length > 0 ? fields : null;
}

/** A string field: null stays null, anything else becomes its text (JSON for objects), clipped. */
function text(value: unknown, max: number): string | null {
  if (value === null || value === undefined) return null;
  return clip(typeof value === 'string' ? value : JSON.stringify(value), max);
}

export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function toJson(value: unknown): JsonValue {
  return value === undefined ? null : (value as JsonValue);
}
