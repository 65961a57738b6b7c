/**
 * The webhook outbox for operators (admin token or API key):
 * `GET /webhooks/messages?status=` lists messages with their attempts, newest first;
 * `POST /webhooks/messages/:id/retry` sends a failed one again.
 */
import {
  TaskwireError,
  WebhookListQuery,
  WebhookListResponse,
  WebhookMessageSchema,
  WebhookParams,
  type WebhookMessage,
} from '@taskwire/protocol';
import type { Outbox, StoredWebhook } from '../engine/types.js';
import { requireAdminOrApiKey } from './auth-hook.js';
import { SECURITY, errorResponses, jsonResponse } from './openapi-schemas.js';
import type { HttpContext, TypedApp } from './types.js';

const iso = (ms: number): string => new Date(ms).toISOString();

export function webhookMessage(m: StoredWebhook): WebhookMessage {
  return {
    id: m.id,
    type: m.type,
    taskId: m.taskId,
    endpoint: m.endpoint,
    status: m.status,
    createdAt: iso(m.createdAt),
    nextAt: m.status === 'pending' ? iso(m.nextAt) : null,
    attempts: m.attempts.map((a) => ({ at: iso(a.at), status: a.status, ...(a.error ? { error: a.error } : {}) })),
  };
}

export function registerWebhookRoutes(app: TypedApp, ctx: HttpContext): void {
  const outbox = (): Outbox => {
    const box = ctx.engine.outbox;
    if (!box) throw new TaskwireError('not_found', `the ${ctx.engine.kind} engine keeps no webhook outbox`);
    return box;
  };
  const listSchema = {
    summary: 'Webhook messages with their attempts (admin token or API key)',
    description:
      'Newest first, `pending` unless `status` says otherwise. Delivered messages are kept 24 h, failed ones 7 days.',
    tags: ['webhooks'],
    security: SECURITY.admin,
    querystring: WebhookListQuery,
    response: { 200: jsonResponse('A page of messages.', WebhookListResponse), ...errorResponses(400, 401, 403, 404) },
  };
  app.get('/webhooks/messages', { schema: listSchema }, async (req) => {
    requireAdminOrApiKey(req);
    const limit = req.query.limit ?? 50;
    const page = await outbox().list(req.query.status ?? 'pending', limit + 1, req.query.cursor);
    const messages = page.slice(0, limit).map(webhookMessage);
    return { messages, nextCursor: page.length > limit ? (messages.at(-1)?.id ?? null) : null };
  });

  const retrySchema = {
    summary: 'Send a failed webhook message again (admin token or API key)',
    description:
      'The message is pending again, due now, with the same `webhook-id`; its attempts so far are kept. 409 unless it failed.',
    tags: ['webhooks'],
    security: SECURITY.admin,
    params: WebhookParams,
    response: {
      200: jsonResponse('The message, pending.', WebhookMessageSchema),
      ...errorResponses(401, 403, 404, 409),
    },
  };
  app.post('/webhooks/messages/:id/retry', { schema: retrySchema }, async (req) => {
    requireAdminOrApiKey(req);
    const before = await outbox().get(req.params.id);
    if (!before) throw new TaskwireError('not_found', `webhook message ${req.params.id} not found`);
    if (before.status !== 'failed') {
      throw new TaskwireError(
        'conflict',
        `webhook message ${req.params.id} is ${before.status}; only a failed one is retried`,
      );
    }
    const after = await outbox().retry(req.params.id, Date.now());
    if (!after) throw new TaskwireError('not_found', `webhook message ${req.params.id} not found`);
    setImmediate(() => ctx.webhooks?.poll());
    return webhookMessage(after);
  });
}
