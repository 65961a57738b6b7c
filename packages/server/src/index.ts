/** @taskwire/server: the public API. */
export { createServer, type CreateServerOptions, type StandaloneServer } from './app/create-server.js';
export {
  taskwirePlugin,
  computeStats,
  API_PREFIX,
  type TaskwirePluginOptions,
  type TaskwireHandle,
  type TransportStats,
} from './app/plugin.js';
export { resolveDashboardDir, type DashboardOptions } from './http/dashboard.js';
export { Metrics, type MetricsOptions, type Transport, type TransportCounts } from './metrics/metrics.js';
export { instrumentEngine } from './metrics/instrumented-engine.js';
export { createRuntime, createEngine, logFormatFor, type TaskwireOptions, type Runtime } from './app/runtime.js';
export { installSignalHandlers, type SignalHandlerOptions } from './app/signals.js';
export {
  resolveConfig,
  redisClusterUrls,
  resolveConfigDetailed,
  signDevToken,
  OPTIONS,
  shownDefault,
  ConfigError,
  type ConfigInput,
  type ResolvedConfig,
  type OptionSpec,
  type DevTokenClaims,
} from './config/resolve.js';
export { createLogger, redactUrl, type Logger } from './logging/logger.js';
export { createMemoryEngine } from './engine/memory/memory-engine.js';
export {
  createSqliteEngine,
  SqliteEngine,
  type SqliteEngineOptions,
  type SqliteSizes,
  type SweepResult,
} from './engine/sqlite/sqlite-engine.js';
export { SchemaVersionError, SCHEMA_VERSION } from './engine/sqlite/schema.js';
export { DatabaseLockedError } from './engine/sqlite/lock.js';
export { createAuthenticator, API_KEY_PRINCIPAL } from './auth/authenticator.js';
export { authorizeSubscribe, authorizePublish } from './auth/permissions.js';
export { AuthError, type Authenticator, type Principal, type AuthFailureReason } from './auth/types.js';
export type { ServerConfig } from './config/types.js';
export type { ServerContext } from './app/context.js';
export type { ServerStats, TaskwireServer } from './app/server-types.js';
export type * from './engine/types.js';
export { DEFAULT_ENGINE_LIMITS, resolveEngineLimits } from './engine/limits.js';
/** For engine implementations: the task list's opaque cursor (newest first by createdAt, then id). */
export { encodeCursor, decodeCursor, type SortKey } from './engine/cursor.js';
export type { Hub, HubStats, Subscriber, HubSubscribeOptions, EncodedEvent } from './hub/types.js';
export type { TaskService, CreateTaskInput, UpdateTaskInput } from './tasks/types.js';
export type { WebSocketGateway } from './ws/types.js';
