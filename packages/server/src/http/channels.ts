/**
 * Channel routes (PROTOCOL §4): publish (permissions of ../auth/permissions.ts
 * `authorizePublish`) and history (the same permissions as a WebSocket
 * subscribe, `authorizeSubscribe`). History answers
 * `{channel, epoch, offset, recovered, events}`: with `since`, the first `limit`
 * events after it, all or nothing; without it, the latest `limit` events.
 */
import { ChannelParams, HistoryQuery, PublishBody, type EventFrame, type Position } from '@taskwire/protocol';
import { TaskwireError } from '@taskwire/protocol';
import type { ServerContext } from '../context.js';
import type { StoredEvent } from '../engine/types.js';
import { authorizePublish, authorizeSubscribe } from '../auth/permissions.js';
import { requirePrincipal } from './auth-hook.js';
import { checkJsonSize } from './tasks.js';
import type { TypedApp } from './types.js';

export function registerChannelRoutes(app: TypedApp, ctx: ServerContext): void {
  app.post('/channels/:channel/publish', { schema: { params: ChannelParams, body: PublishBody } }, async (req) => {
    const p = requirePrincipal(req);
    const { channel } = req.params;
    const denied = authorizePublish(p, channel);
    if (denied) throw denied;
    if (req.body.data === undefined) throw new TaskwireError('bad_request', 'data is required');
    checkJsonSize('data', req.body.data);
    const { event } = await ctx.engine.publish({
      channel,
      data: req.body.data,
      ...(req.body.idempotencyKey !== undefined ? { idempotencyKey: req.body.idempotencyKey } : {}),
    });
    return { epoch: event.epoch, offset: event.offset };
  });

  app.get(
    '/channels/:channel/history',
    { schema: { params: ChannelParams, querystring: HistoryQuery } },
    async (req) => {
      const p = requirePrincipal(req);
      const { channel } = req.params;
      const decision = await authorizeSubscribe(p, channel, (id) => ctx.tasks.get(id));
      if (!decision.ok) throw decision.error;
      const limit = Math.min(req.query.limit ?? 100, ctx.config.historySize);
      const since = req.query.since !== undefined ? parsePosition(req.query.since) : undefined;
      const h = await ctx.engine.history(channel, since ? { since, limit } : { limit });
      return {
        channel,
        epoch: h.epoch,
        offset: h.offset,
        recovered: h.recovered,
        events: h.recovered ? h.events.map(toEventFrame) : [],
      };
    },
  );
}

function parsePosition(since: string): Position {
  const i = since.lastIndexOf(':');
  return { epoch: since.slice(0, i), offset: Number(since.slice(i + 1)) };
}

export function toEventFrame(e: StoredEvent): EventFrame {
  return { type: 'event', channel: e.channel, epoch: e.epoch, offset: e.offset, time: e.time, data: e.data };
}
