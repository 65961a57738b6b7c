/**
 * taskwirePlugin: the whole of taskwire as one Fastify plugin, to mount inside an
 * existing Fastify app:
 *
 * ```ts
 * import Fastify from 'fastify';
 * import { taskwirePlugin } from '@taskwire/server';
 *
 * const app = Fastify({ routerOptions: { maxParamLength: 256 } }); // channel names are up to 133 characters
 * await app.register(taskwirePlugin, { jwtSecret, apiKey }); // any ServerConfig options
 * await app.listen({ port: 8080 });
 * // app.taskwire.ctx (engine, hub, tasks, auth), app.taskwire.stats()
 * ```
 *
 * It adds `/api/v1/ws` (exactly one WebSocket route), the `/api/v1` HTTP API in
 * its own encapsulated context (its validator, error handler and 404 do not leak
 * into the host app) with the SSE route and long-polling, `/healthz`, `/readyz`
 * at the root (`health: false` skips them), `/metrics` (`metrics: false` skips it)
 * and the OpenAPI document and UI at `/docs` (`docs: false` skips them, e.g. when
 * the host app registers @fastify/swagger itself), and the dashboard's files at `/`
 * (`dashboard: false` skips them, as does a host app that already has `GET /`;
 * `dashboardDir` says where they are). On `app.close()` every SSE stream is ended,
 * every waiting long-poll answered, and every WebSocket closed with 1012 first. Given
 * `context` (a ServerContext you built), the caller owns its lifecycle; given
 * options, the plugin builds the context and closes it with the app.
 */
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { ServerContext } from './context.js';
import { registerDashboard, type DashboardOptions } from '../http/dashboard.js';
import { registerDocs } from '../http/docs.js';
import { LongPollRegistry } from '../http/longpoll.js';
import { prepareScope } from '../http/openapi-schemas.js';
import { registerHealthRoutes } from '../http/ops.js';
import { httpApi } from '../http/api.js';
import { SseGateway } from '../http/sse-stream.js';
import { countHttpRequests, registerMetricsRoute } from '../http/metrics-route.js';
import { createRuntime, type Runtime, type TaskwireOptions } from './runtime.js';
import type { ServerStats } from './server-types.js';
import { registerWebSocket } from '../ws/endpoint.js';
import type { WebSocketGateway } from '../ws/types.js';

export const API_PREFIX = '/api/v1';

const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

export interface TaskwireHandle {
  readonly ctx: ServerContext;
  readonly gateway: WebSocketGateway;
  /** The SSE streams of this server. */
  readonly sse: SseGateway;
  stats(): ServerStats;
}

declare module 'fastify' {
  interface FastifyInstance {
    taskwire: TaskwireHandle;
  }
}

export type TaskwirePluginOptions = TaskwireOptions &
  DashboardOptions & {
    /** A context you built (createServer does); otherwise one is built from the options. */
    context?: ServerContext;
    /** Register /healthz and /readyz at the root (default true). */
    health?: boolean;
    /** Register GET /metrics at the root (default true). */
    metrics?: boolean;
    /** Register the OpenAPI document and UI at /docs (default true). */
    docs?: boolean;
  };

/** The other transports' numbers for stats (SSE streams, waiting long-polls). */
export interface TransportStats {
  sse: { connections: number; timers: number; slowConsumerCloses: number };
  longpoll: { connections: number; timers: number };
}

const NO_TRANSPORTS: TransportStats = {
  sse: { connections: 0, timers: 0, slowConsumerCloses: 0 },
  longpoll: { connections: 0, timers: 0 },
};

export function computeStats(
  ctx: ServerContext,
  gateway: WebSocketGateway,
  transports: TransportStats = NO_TRANSPORTS,
): ServerStats {
  const hub = ctx.hub.stats();
  const ws = gateway.connectionCount();
  const { sse, longpoll } = transports;
  return {
    connections: ws + sse.connections + longpoll.connections,
    connectionsByTransport: { ws, sse: sse.connections, longpoll: longpoll.connections },
    pendingAuth: gateway.pendingAuthCount(),
    subscriptions: hub.subscriptions,
    channels: hub.channels,
    engineSubscriptions: ctx.engine.stats().subscriptions,
    timers: gateway.timerCount() + sse.timers + longpoll.timers,
    eventsIn: hub.eventsIn,
    eventsOut: hub.eventsOut,
    eventsInPerSecond: hub.eventsInPerSecond,
    eventsOutPerSecond: hub.eventsOutPerSecond,
    slowConsumerCloses: gateway.slowConsumerCloses() + transports.sse.slowConsumerCloses,
  };
}

async function taskwire(app: FastifyInstance, opts: TaskwirePluginOptions): Promise<void> {
  let runtime: Runtime | undefined;
  const ctx = opts.context ?? (runtime = await createRuntime(opts)).ctx;
  let gateway: WebSocketGateway | undefined;
  const sse = new SseGateway(ctx);
  const polls = new LongPollRegistry(ctx);
  const transports = (): TransportStats => ({
    sse: { connections: sse.size, timers: sse.counts.timers, slowConsumerCloses: sse.counts.slowConsumerCloses },
    longpoll: { connections: polls.size, timers: polls.timers },
  });
  const stats = (): ServerStats => {
    if (!gateway) throw new Error('taskwire is not ready');
    return computeStats(ctx, gateway, transports());
  };
  ctx.metrics.setSources({
    connections: () => ({ ws: gateway?.connectionCount() ?? 0, sse: sse.size, longpoll: polls.size }),
    pendingAuth: () => gateway?.pendingAuthCount() ?? 0,
    slowConsumerCloses: () => ({
      ws: gateway?.slowConsumerCloses() ?? 0,
      sse: sse.counts.slowConsumerCloses,
      longpoll: 0,
    }),
    hub: () => ctx.hub.stats(),
  });
  app.decorate('taskwire', {
    ctx,
    get gateway(): WebSocketGateway {
      if (!gateway) throw new Error('taskwire is not ready');
      return gateway;
    },
    sse,
    stats,
  } satisfies TaskwireHandle);

  // Every WebSocket gets 1012 (restart) and a moment to close before the server stops.
  app.addHook('preClose', async () => {
    sse.closeAll();
    polls.closeAll();
    await gateway?.closeAll(1012, 'server restarting', Math.floor(ctx.config.shutdownTimeoutMs * 0.8));
  });
  if (runtime) {
    const owned = runtime;
    app.addHook('onClose', () => owned.stop());
  }

  // Before any route: @fastify/swagger collects the routes as they are added.
  if (opts.docs !== false) await registerDocs(app, VERSION);
  countHttpRequests(app, ctx.metrics);

  await app.register(
    (scope, _opts, done) => {
      prepareScope(scope);
      gateway = registerWebSocket(scope, ctx);
      done();
    },
    { prefix: API_PREFIX },
  );
  await app.register(httpApi, { prefix: API_PREFIX, ctx, stats, sse, polls });
  await app.register((scope, _opts, done) => {
    prepareScope(scope);
    if (opts.health !== false) registerHealthRoutes(scope, ctx);
    if (opts.metrics !== false) registerMetricsRoute(scope, ctx);
    done();
  });
  await registerDashboard(app, opts);
}

export const taskwirePlugin = fp(taskwire, { name: 'taskwire', fastify: '5.x' });
