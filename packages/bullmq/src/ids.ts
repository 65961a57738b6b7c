/**
 * Job id → task id, deterministic, so every bridge process and every restart names a
 * job's task the same way: `bullmq-<queue>-<jobId>` when that fits the id grammar
 * (1-128 of `[A-Za-z0-9_.\-@]`), else `bullmq-h-<sha256 of queue and job id>`.
 */
import { createHash } from 'node:crypto';
import { isValidId } from '@taskwire/protocol';

export function taskIdFor(queue: string, jobId: string, prefix = 'bullmq'): string {
  const id = `${prefix}-${queue}-${jobId}`;
  if (isValidId(id)) return id;
  const digest = createHash('sha256').update(`${queue}\u0000${jobId}`).digest('hex').slice(0, 40);
  return `${prefix}-h-${digest}`;
}

/** The create's Idempotency-Key: printable ASCII, derived from the task id alone. */
export function idempotencyKeyFor(taskId: string): string {
  return `taskwire.bullmq:${taskId}`;
}
