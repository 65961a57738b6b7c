import type { WebhookSender } from '../webhooks/sender.js';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Authenticator } from '../auth/types.js';
import type { ServerConfig } from '../config/types.js';
import type { Engine } from '../engine/types.js';
import type { ChannelService } from '../hub/channel-service.js';
import type { Metrics } from '../metrics/metrics.js';
import type { TaskService } from '../tasks/types.js';

/** A Fastify instance with the TypeBox type provider (schemas from @taskwire/protocol). */
export type TypedApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression<RawServerDefault>,
  RawReplyDefaultExpression<RawServerDefault>,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** What the HTTP API needs of the node (the app's context has all of it). */
export interface HttpContext {
  readonly config: ServerConfig;
  /** Readiness only: the channel routes go through `channels`. */
  readonly engine: Pick<Engine, 'kind' | 'ping' | 'outbox'>;
  readonly channels: ChannelService;
  readonly tasks: TaskService;
  readonly auth: Authenticator;
  readonly metrics: Metrics;
  /** Asked to look at the outbox now (after a retry); null without endpoints. */
  readonly webhooks: Pick<WebhookSender, 'poll'> | null;
}

export interface ServerStats {
  /** Every transport: WebSocket connections, SSE streams and waiting long-poll requests. */
  connections: number;
  connectionsByTransport: { ws: number; sse: number; longpoll: number };
  /** WebSockets that have not authenticated yet (counted in `ws`; they hold no connection slot). */
  pendingAuth: number;
  subscriptions: number;
  channels: number;
  engineSubscriptions: number;
  timers: number;
  eventsIn: number;
  eventsOut: number;
  eventsInPerSecond: number;
  eventsOutPerSecond: number;
  slowConsumerCloses: number;
}
