/**
 * createServer(): a standalone taskwire server (the CLI's `serve`, tests). Builds
 * the context (config from the options, logger, engine, hub, task service with
 * its stall sweep, authenticator) and a Fastify app with taskwirePlugin.
 */
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { LIMITS } from '@taskwire/protocol';
import type { DashboardOptions } from '../http/dashboard.js';
import {
  MAX_PARAM_LENGTH,
  clientErrorHandler,
  errorHandler,
  frameworkErrorHandler,
  notFoundHandler,
} from '../http/errors.js';
import { requestLogger } from '../logging/logger.js';
import { taskwirePlugin } from './plugin.js';
import { createRuntime, type TaskwireOptions } from './runtime.js';
import type { TaskwireServer } from './server-types.js';
import type { ResolvedConfig } from '../config/resolve.js';

/** The runtime's options, and where the dashboard is (served at `/` unless `dashboard: false`). */
export type CreateServerOptions = TaskwireOptions & DashboardOptions;

export interface StandaloneServer extends TaskwireServer {
  /** Secrets generated because `dev` was on and they were missing. */
  readonly generated: ResolvedConfig['generated'];
}

export async function createServer(options: CreateServerOptions = {}): Promise<StandaloneServer> {
  const { dashboard, dashboardDir, ...runtimeOptions } = options;
  const runtime = await createRuntime(runtimeOptions);
  const { ctx } = runtime;
  const loggerInstance: FastifyBaseLogger = ctx.logger;
  const app = Fastify({
    loggerInstance,
    // No child logger per request while the logger is silent (logging/logger.ts).
    childLoggerFactory: requestLogger,
    bodyLimit: LIMITS.bodyBytes,
    return503OnClosing: true,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // One error format even for what fails before a route runs.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  try {
    await app.register(taskwirePlugin, {
      context: ctx,
      ...(dashboard !== undefined ? { dashboard } : {}),
      ...(dashboardDir !== undefined ? { dashboardDir } : {}),
    });
    await app.ready();
  } catch (err) {
    await runtime.stop();
    throw err;
  }

  let closing: Promise<void> | undefined;
  return {
    app,
    ctx,
    generated: runtime.generated,
    async listen() {
      await app.listen({ port: ctx.config.port, host: ctx.config.host });
      const addr = app.server.address();
      if (addr === null || typeof addr === 'string') throw new Error('server is not listening on TCP');
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      const url = `http://${host}:${addr.port}`;
      ctx.logger.info({ url, engine: ctx.engine.kind, dev: ctx.config.dev }, 'taskwire listening');
      return { port: addr.port, host: addr.address, url };
    },
    close() {
      closing ??= (async () => {
        // Bounded: WebSockets get up to 80% of the shutdown budget (plugin.ts); at 90%
        // every HTTP connection still open is cut, in-flight or never used (Node's close
        // only drops idle keep-alive ones), so close() ends within the budget and the
        // signal handler, whose limit is the whole budget, exits 0.
        const force = setTimeout(
          () => app.server.closeAllConnections(),
          Math.floor(ctx.config.shutdownTimeoutMs * 0.9),
        );
        force.unref();
        try {
          await app.close();
        } finally {
          clearTimeout(force);
          await runtime.stop();
        }
      })();
      return closing;
    },
    stats: () => app.taskwire.stats(),
  };
}
