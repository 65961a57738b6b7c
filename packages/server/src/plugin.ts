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
 * into the host app), and `/healthz`, `/readyz` at the root (`health: false`
 * skips them). On `app.close()` every WebSocket is closed with 1012 first. Given
 * `context` (a ServerContext you built), the caller owns its lifecycle; given
 * options, the plugin builds the context and closes it with the app.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import websocket from '@fastify/websocket';
import type { ServerContext } from './context.js';
import { registerHealthRoutes } from './http/ops.js';
import { httpApi } from './http/api.js';
import { createRuntime, type Runtime, type TaskwireOptions } from './runtime.js';
import type { ServerStats } from './server-types.js';
import { registerWebSocket } from './ws/endpoint.js';
import type { WebSocketGateway } from './ws/types.js';

export const API_PREFIX = '/api/v1';

export interface TaskwireHandle {
  readonly ctx: ServerContext;
  readonly gateway: WebSocketGateway;
  stats(): ServerStats;
}

declare module 'fastify' {
  interface FastifyInstance {
    taskwire: TaskwireHandle;
  }
}

export type TaskwirePluginOptions = TaskwireOptions & {
  /** A context you built (createServer does); otherwise one is built from the options. */
  context?: ServerContext;
  /** Register /healthz and /readyz at the root (default true). */
  health?: boolean;
};

export function computeStats(ctx: ServerContext, gateway: WebSocketGateway): ServerStats {
  const hub = ctx.hub.stats();
  return {
    connections: gateway.connectionCount(),
    subscriptions: hub.subscriptions,
    channels: hub.channels,
    engineSubscriptions: ctx.engine.stats().subscriptions,
    timers: gateway.timerCount(),
    eventsIn: hub.eventsIn,
    eventsOut: hub.eventsOut,
    eventsInPerSecond: hub.eventsInPerSecond,
    eventsOutPerSecond: hub.eventsOutPerSecond,
    slowConsumerCloses: gateway.slowConsumerCloses(),
  };
}

async function taskwire(app: FastifyInstance, opts: TaskwirePluginOptions): Promise<void> {
  let runtime: Runtime | undefined;
  const ctx = opts.context ?? (runtime = await createRuntime(opts)).ctx;
  let gateway: WebSocketGateway | undefined;
  const stats = (): ServerStats => {
    if (!gateway) throw new Error('taskwire is not ready');
    return computeStats(ctx, gateway);
  };
  app.decorate('taskwire', {
    ctx,
    get gateway(): WebSocketGateway {
      if (!gateway) throw new Error('taskwire is not ready');
      return gateway;
    },
    stats,
  } satisfies TaskwireHandle);

  // Registered before @fastify/websocket's own preClose, so clients get 1012 (restart), not a bare close.
  app.addHook('preClose', async () => {
    await gateway?.closeAll(1012, 'server restarting', Math.floor(ctx.config.shutdownTimeoutMs * 0.8));
  });
  if (runtime) {
    const owned = runtime;
    app.addHook('onClose', () => owned.stop());
  }

  await app.register(
    async (scope) => {
      await scope.register(websocket, { options: { maxPayload: ctx.config.maxFrameBytes } });
      gateway = registerWebSocket(scope, ctx);
    },
    { prefix: API_PREFIX },
  );
  await app.register(httpApi, { prefix: API_PREFIX, ctx, stats });
  if (opts.health !== false) registerHealthRoutes(app, ctx);
}

export const taskwirePlugin = fp(taskwire, { name: 'taskwire', fastify: '5.x' });
