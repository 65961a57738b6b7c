/**
 * `GET /api/v1/channels/:channel/events`: Server-Sent Events (docs/protocol.md §4).
 *
 * Authentication and permission come first and fail as plain HTTP errors before the
 * stream starts (401, 403 `forbidden`, 404 `not_found`, 429 `limit_exceeded`, 503):
 * `Authorization: Bearer`, or `?token=` / `?ticket=` for `EventSource` (the route
 * opts in with `config.queryAuth`); the permission is a WebSocket subscribe's
 * (`authorizeSubscribe`). Then, in one write:
 *
 * - `retry: 2000`, then
 * - without `Last-Event-ID` (header, or `?lastEventId=`): for `task:` channels
 *   `event: snapshot` (`{"channel","epoch","offset","snapshot"}`); for other channels
 *   an `id:`-only block, which sets the client's last event id to the current
 *   position (so a reconnect recovers from it) without dispatching an event;
 * - with one that recovers (same rule as §2, all or nothing): exactly the missed
 *   events (no snapshot: the client already has the state);
 * - with one that can't (trimmed, other epoch, over the recovery limit, malformed):
 *   `event: resync` (`{"channel","epoch","offset","snapshot"}`, `snapshot` on task
 *   channels only);
 *
 * then live `event: event` blocks (`id: <epoch>:<offset>`, `data:` the event frame
 * JSON, the Hub's bytes), `: ping` every `heartbeatMs`, and `event: unsubscribed`
 * followed by the end of the stream when the Hub ends the subscription. Every block
 * that carries a position has `id: <epoch>:<offset>`.
 */
import {
  ChannelParams,
  TaskwireError,
  parseChannel,
  type EventFrame,
  type Position,
  type SubscribeResult,
} from '@taskwire/protocol';
import { Type } from 'typebox';
import type { ChannelService } from '../hub/channel-service.js';
import { requirePrincipal, type TaskwireRouteConfig } from './auth-hook.js';
import { errorResponses, SECURITY } from './openapi-schemas.js';
import { sseBlock, type SseGateway } from './sse-stream.js';
import type { TypedApp } from './types.js';

const POSITION = /^([A-Za-z0-9_-]{1,32}):([0-9]{1,16})$/;

export const SseQuery = Type.Object({
  token: Type.Optional(Type.String({ description: 'A client JWT (for EventSource, which cannot set headers).' })),
  ticket: Type.Optional(Type.String({ description: 'A single-use ticket from POST /api/v1/tickets.' })),
  lastEventId: Type.Optional(
    Type.String({ maxLength: 64, description: 'As the Last-Event-ID header, for clients that cannot set it.' }),
  ),
});

const SseHeaders = Type.Object({
  'last-event-id': Type.Optional(
    Type.String({ maxLength: 64, description: 'The last `<epoch>:<offset>` seen; asks for recovery.' }),
  ),
});

const DESCRIPTION = [
  'Server-Sent Events stream of a channel (text/event-stream), as specified in docs/protocol.md',
  '(§ "Server-Sent Events"). Blocks: `event: snapshot` (task channels, first), `event: event`',
  '(`id: <epoch>:<offset>`, `data:` the event frame JSON), `event: resync` (recovery impossible:',
  'snapshot and current position), `event: unsubscribed` (then the stream ends), `: ping` comments.',
  'Send `Last-Event-ID` (or `?lastEventId=`) to recover missed events. Errors are answered as JSON',
  'before the stream starts.',
].join(' ');

/** `undefined`: no id given; `null`: given but malformed (resync). */
function lastEventIdOf(header: string | string[] | undefined, query: string | undefined): Position | null | undefined {
  const raw = (Array.isArray(header) ? header[0] : header) ?? query;
  if (raw === undefined || raw === '') return undefined;
  const m = POSITION.exec(raw);
  if (!m) return null;
  return { epoch: m[1] as string, offset: Number(m[2]) };
}

function positionJson(result: SubscribeResult, withSnapshot: boolean): string {
  return JSON.stringify({
    channel: result.channel,
    epoch: result.epoch,
    offset: result.offset,
    ...(withSnapshot ? { snapshot: result.snapshot ?? null } : {}),
  });
}

/** Everything written before live events, as one string. */
function preamble(result: SubscribeResult, asked: Position | null | undefined, isTask: boolean): string {
  const id = `${result.epoch}:${result.offset}`;
  if (asked === undefined) {
    return isTask ? sseBlock('snapshot', positionJson(result, true), id) : `id: ${id}\n\n`;
  }
  if (asked === null || result.recovered !== true) return sseBlock('resync', positionJson(result, isTask), id);
  return result.events.map((e: EventFrame) => sseBlock('event', JSON.stringify(e), `${e.epoch}:${e.offset}`)).join('');
}

export function registerSseRoute(app: TypedApp, channels: ChannelService, gateway: SseGateway): void {
  const config: TaskwireRouteConfig = { queryAuth: true };
  app.get(
    '/channels/:channel/events',
    {
      config,
      schema: {
        summary: 'Stream a channel over Server-Sent Events',
        description: DESCRIPTION,
        tags: ['channels'],
        security: SECURITY.stream,
        params: ChannelParams,
        querystring: SseQuery,
        headers: SseHeaders,
        produces: ['text/event-stream'],
        response: {
          200: {
            description: 'The event stream (text/event-stream), open until the client disconnects.',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          ...errorResponses(400, 401, 403, 404, 429, 503),
        },
      },
    },
    async (req, reply) => {
      const principal = requirePrincipal(req);
      const { channel } = req.params;
      if (!gateway.accepting) throw new TaskwireError('unavailable', 'the server is shutting down');
      const asked = lastEventIdOf(req.headers['last-event-id'], req.query.lastEventId);
      const isTask = parseChannel(channel)?.kind === 'task';
      const stream = gateway.create(reply.raw, principal);
      if (stream.closed) return reply.hijack(); // the client already left
      let result: SubscribeResult | null;
      try {
        result = await channels.subscribe(principal, stream, {
          channel,
          since: asked ?? undefined,
          alive: () => !stream.closed,
        });
      } catch (err) {
        stream.end('gone');
        throw err;
      }
      if (result === null || stream.closed) {
        // The client left (or the server is shutting down) while the subscription was set up.
        channels.release(stream);
        if (!gateway.accepting) throw new TaskwireError('unavailable', 'the server is shutting down');
        return reply.hijack();
      }
      reply.hijack();
      stream.open(result.epoch, preamble(result, asked, isTask));
      if (!stream.closed) channels.activate(stream, channel);
      return reply;
    },
  );
}
