/**
 * Channel routes (docs/protocol.md §4): publish (permissions of ../auth/permissions.ts
 * `authorizePublish`) and history (the same permissions as a WebSocket
 * subscribe, `authorizeSubscribe`). History answers
 * `{channel, epoch, offset, recovered, events}`: with `since`, the first `limit`
 * events after it, all or nothing; without it, the latest `limit` events.
 *
 * Long-poll (`wait`, seconds, at most 60): with `since` and nothing after it yet, the
 * request waits for the first event (./longpoll.ts) and answers it, or answers
 * `events: []` at the timeout. Events already after `since`, `recovered: false`,
 * no `since` (the latest `limit` at once) and `limit=0` answer at once.
 */
import { ChannelParams, HistoryQuery, LIMITS, PublishBody, type EventFrame, type Position } from '@taskwire/protocol';
import type { StoredEvent } from '../engine/types.js';
import type { ChannelService } from '../hub/channel-service.js';
import { requirePrincipal } from './auth-hook.js';
import type { LongPollRegistry } from './longpoll.js';
import { Bodies, SECURITY, errorResponses, jsonResponse } from './openapi-schemas.js';
import type { TypedApp } from './types.js';

const JSON_TYPE = 'application/json; charset=utf-8';

export function registerChannelRoutes(app: TypedApp, channels: ChannelService, polls: LongPollRegistry): void {
  const publishSchema = {
    summary: 'Publish an event to a user: or room: channel',
    description:
      'Appends `data` to the channel and delivers it to every subscriber. A repeated `idempotencyKey` within 5 minutes returns the first position and publishes nothing. Task channels are published only by the task API.',
    tags: ['channels'],
    security: SECURITY.client,
    params: ChannelParams,
    body: PublishBody,
    response: {
      200: jsonResponse('The position of the event.', Bodies.position),
      ...errorResponses(400, 401, 403, 413),
    },
  };
  app.post('/channels/:channel/publish', { schema: publishSchema }, async (req) =>
    channels.publish(requirePrincipal(req), { ...req.body, channel: req.params.channel }),
  );

  const historySchema = {
    summary: 'Read channel history, or long-poll for the next events',
    description:
      'With `since=<epoch>:<offset>`: the first `limit` events after it, all or nothing (`recovered: false` and no events when they were trimmed or the epoch changed). Without `since`: the latest `limit` events. With `wait=<seconds>` (at most 60) and `since`, when nothing is after `since` yet, waits for the first event and answers it, or answers `events: []` at the timeout (without `since`, `wait` is ignored). Same permissions as a WebSocket subscribe. See docs/protocol.md.',
    tags: ['channels'],
    security: SECURITY.client,
    params: ChannelParams,
    querystring: HistoryQuery,
    response: {
      200: jsonResponse('The position and the events.', Bodies.history),
      ...errorResponses(400, 401, 403, 404),
    },
  };
  app.get('/channels/:channel/history', { schema: historySchema }, async (req, reply) => {
    const principal = requirePrincipal(req);
    const { channel } = req.params;
    const since = req.query.since !== undefined ? parsePosition(req.query.since) : undefined;
    const limit = Math.min(req.query.limit ?? LIMITS.historyDefault, channels.historySize);
    const h = await channels.history(principal, channel, since ? { since, limit } : { limit });
    const waitMs = Math.round((req.query.wait ?? 0) * 1000);
    if (since && waitMs > 0 && limit > 0 && h.recovered && h.events.length === 0) {
      const body = await polls.wait({ principal, channel, since, limit, waitMs, res: reply.raw });
      return reply.type(JSON_TYPE).send(body);
    }
    return {
      channel,
      epoch: h.epoch,
      offset: h.offset,
      recovered: h.recovered,
      events: h.recovered ? h.events.map(toEventFrame) : [],
    };
  });
}

function parsePosition(since: string): Position {
  const i = since.lastIndexOf(':');
  return { epoch: since.slice(0, i), offset: Number(since.slice(i + 1)) };
}

export function toEventFrame(e: StoredEvent): EventFrame {
  return { type: 'event', channel: e.channel, epoch: e.epoch, offset: e.offset, time: e.time, data: e.data };
}
