/** The taskwire target: createServer() with the memory, SQLite or Redis engine; publishing in process. */
import type * as ServerApi from '@taskwire/server';
import type { TaskwireOptions } from '@taskwire/server';
import { BENCH_API_KEY, TaskShapes, type Target, type TargetOptions } from './common.js';

type ServerModule = typeof ServerApi;

/**
 * A/B runs of proposed server changes: BENCH_TASKWIRE_SERVER=/abs/path/to/a/patched/copy/of/dist/index.js
 * (placed inside the repository, so its imports resolve) replaces @taskwire/server.
 */
async function serverModule(): Promise<ServerModule> {
  const alt = process.env.BENCH_TASKWIRE_SERVER;
  return alt ? ((await import(alt)) as ServerModule) : import('@taskwire/server');
}

/**
 * Limits raised so the bench measures speed, not the per-node/per-user connection caps
 * (the load generator opens thousands of sockets at once, all waiting to authenticate).
 * The frame queue keeps its default: a fast publisher is slowed by backpressure, never refused.
 */
const BENCH_CONFIG = {
  host: '127.0.0.1',
  port: 0,
  logLevel: 'silent',
  maxConnections: 100_000,
  maxConnectionsPerUser: 100_000,
  maxPendingAuth: 100_000,
} as const;

async function engineFactory(o: TargetOptions): Promise<TaskwireOptions['engineFactory']> {
  if (o.engine !== 'redis') return undefined;
  const { createRedisEngine } = await import('@taskwire/engine-redis');
  return (config, logger) =>
    createRedisEngine({
      url: o.redisUrl,
      logger,
      prefix: 'twbench',
      limits: { historySize: config.historySize, historyTtlMs: config.historyTtlMs },
    });
}

export async function startTaskwire(o: TargetOptions): Promise<Target> {
  const factory = await engineFactory(o);
  const { createServer } = await serverModule();
  const server = await createServer({
    ...BENCH_CONFIG,
    engine: o.engine ?? 'memory',
    ...(o.db ? { db: o.db } : {}),
    jwtSecret: o.jwtSecret ?? 'bench-secret-bench-secret-bench-secret',
    jwtAlgorithm: 'HS256',
    apiKey: BENCH_API_KEY,
    ...(factory ? { engineFactory: factory, engine: 'redis' as const, redisUrl: o.redisUrl } : {}),
  });
  const { port } = await server.listen();
  const { engine, tasks } = server.ctx;
  const shapes = new TaskShapes();
  return {
    port,
    sink: {
      raw: (channel, data) => engine.publish({ channel, data }),
      task:
        o.taskPath === 'publish'
          ? (channel, taskId, progress, t) => engine.publish({ channel, data: shapes.update(taskId, progress, t) })
          : (_channel, taskId, progress, t) => tasks.update(taskId, { progress, meta: { t } }),
    },
    async prepare(taskIds) {
      // Bounded concurrency: 64 tasks at a time.
      for (let i = 0; i < taskIds.length; i += 64) {
        await Promise.all(
          taskIds.slice(i, i + 64).map(async (id) => {
            // Owned by the client of the same name (client `bench-<k>` subscribes to `task:bench-<k>`).
            await tasks.create({ id, owner: id, title: 'Benchmark task', stallTimeoutMs: 0 });
            await tasks.update(id, { status: 'running', stage: 'work' });
          }),
        );
      }
    },
    close: () => server.close(),
  };
}
