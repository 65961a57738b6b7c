/**
 * Builds the ServerContext (config, logger, engine, hub, task service,
 * authenticator) from options, and tears it down. Used by createServer() and by
 * taskwirePlugin when it is given options instead of a context.
 */
import type { Logger } from 'pino';
import { createAuthenticator } from '../auth/authenticator.js';
import { ConfigError, resolveConfigDetailed, type ResolvedConfig } from '../config/resolve.js';
import type { ServerConfig } from '../config/types.js';
import type { ServerContext } from './context.js';
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import { createSqliteEngine } from '../engine/sqlite/sqlite-engine.js';
import type { Engine } from '../engine/types.js';
import { ChannelService } from '../hub/channel-service.js';
import { createHub } from '../hub/hub.js';
import { createLogger } from '../logging/logger.js';
import { instrumentAuthenticator } from '../metrics/instrumented-auth.js';
import { instrumentEngine } from '../metrics/instrumented-engine.js';
import { Metrics } from '../metrics/metrics.js';
import { createTaskService } from '../tasks/service.js';
import { startWebhooks } from '../webhooks/start.js';

export type TaskwireOptions = Partial<ServerConfig> & {
  /** Use this pino logger instead of building one from `logLevel`. */
  logger?: Logger;
  /** Where the built logger writes (default stdout). */
  logDestination?: NodeJS.WritableStream;
  /**
   * Build the engine yourself (the Redis engine lives in its own package, so the
   * CLI and tests pass it in here). Default: the engine named by `config.engine`.
   */
  engineFactory?: (config: ServerConfig, logger: Logger) => Engine;
  /** Collect process metrics (CPU, memory, event loop, GC) on this server's registry (default true). */
  processMetrics?: boolean;
};

export interface Runtime {
  ctx: ServerContext;
  /** Secrets generated in dev mode (print them). */
  generated: ResolvedConfig['generated'];
  /** Stop the stall sweep, close the hub and the engine. Idempotent. */
  stop(): Promise<void>;
}

/** Only the ServerConfig keys of the options (the rest are not configuration). */
function configOverrides(options: TaskwireOptions): Partial<ServerConfig> {
  const { logger: _logger, logDestination: _dest, engineFactory: _factory, processMetrics: _pm, ...rest } = options;
  return rest;
}

export function createEngine(config: ServerConfig, logger: Logger): Engine {
  const limits = { historySize: config.historySize, historyTtlMs: config.historyTtlMs };
  const onListenerError = (err: unknown, channel: string): void =>
    logger.error({ err, channel }, 'an engine listener threw');
  switch (config.engine) {
    case 'memory':
      return createMemoryEngine(limits, { onListenerError });
    case 'sqlite':
      return createSqliteEngine({
        path: config.db,
        limits,
        onListenerError,
        onError: (err: unknown) => logger.error({ err }, 'the SQLite retention sweep failed'),
      });
    case 'redis':
      throw new ConfigError(
        '--engine (TASKWIRE_ENGINE) redis needs @taskwire/engine-redis: run `taskwire serve --engine redis` from the CLI, or pass engineFactory to createServer',
      );
  }
}

/** `auto` is pretty in dev mode on a terminal, JSON everywhere else. */
export function logFormatFor(
  config: Pick<ServerConfig, 'logFormat' | 'dev'>,
  out: NodeJS.WritableStream,
): 'json' | 'pretty' {
  if (config.logFormat !== 'auto') return config.logFormat;
  return config.dev && (out as { isTTY?: boolean }).isTTY === true ? 'pretty' : 'json';
}

export async function createRuntime(options: TaskwireOptions = {}): Promise<Runtime> {
  const { config, generated } = resolveConfigDetailed({ overrides: configOverrides(options), env: {} });
  const logger =
    options.logger ??
    createLogger({
      level: config.logLevel,
      secrets: [config.apiKey, config.jwtSecret, config.metricsToken],
      format: logFormatFor(config, options.logDestination ?? process.stdout),
      ...(options.logDestination ? { destination: options.logDestination } : {}),
    });
  const metrics = new Metrics({ processMetrics: options.processMetrics });
  const engineLogger = logger.child({ component: 'engine' });
  const engine = instrumentEngine(
    options.engineFactory ? options.engineFactory(config, engineLogger) : createEngine(config, engineLogger),
    metrics,
  );
  await engine.start();
  const hub = createHub(engine, {
    logger: logger.child({ component: 'hub' }),
    recoveryLimit: config.recoveryLimit,
    historySize: config.historySize,
    onFirstWrite: (time) => metrics.observeDeliveryLatency(time),
  });
  const webhooks = startWebhooks(config, engine, logger.child({ component: 'webhooks' }), metrics);
  const tasks = createTaskService(engine, {
    logger: logger.child({ component: 'tasks' }),
    streamMaxBytes: config.streamMaxBytes,
    ...(webhooks ? { webhooks: webhooks.source } : {}),
    taskTtlMs: config.taskTtlMs,
  });
  const auth = instrumentAuthenticator(createAuthenticator(config, engine), metrics);
  tasks.start(config.stallSweepMs);
  const channels = new ChannelService({
    hub,
    engine,
    getTask: (id) => tasks.get(id),
    limits: config,
    logger: logger.child({ component: 'channels' }),
  });
  const ctx: ServerContext = {
    config,
    engine,
    hub,
    channels,
    tasks,
    auth,
    logger,
    metrics,
    webhooks: webhooks?.sender ?? null,
  };
  let stopping: Promise<void> | undefined;
  return {
    ctx,
    generated,
    stop() {
      stopping ??= (async () => {
        await settle(logger, 'task service', tasks.stop());
        if (webhooks) await settle(logger, 'webhook sender', webhooks.sender.close());
        await settle(logger, 'hub', hub.close());
        await settle(logger, 'engine', engine.close());
      })();
      return stopping;
    },
  };
}

async function settle(logger: Logger, what: string, p: Promise<void>): Promise<void> {
  try {
    await p;
  } catch (err) {
    logger.error({ err }, `closing the ${what} failed`);
  }
}
