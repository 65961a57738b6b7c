/**
 * The table of every server option: its ServerConfig key, `--flag`,
 * `TASKWIRE_*` environment variable, type, default and one-line description.
 * `resolveConfig()` (./config.ts) reads it; docs/configuration.md mirrors it.
 */
import { formatDuration } from './durations.js';
import type { ServerConfig } from './types.js';

export type OptionType =
  | { kind: 'integer'; min: number; max: number }
  /** Milliseconds, written `500ms`, `30s`, `5m`, `2h`, `7d` or a bare number of ms. */
  | { kind: 'duration'; min: number; max: number }
  | { kind: 'string' }
  | { kind: 'secret' }
  | { kind: 'boolean' }
  | { kind: 'enum'; values: readonly string[] };

export interface OptionSpec<K extends keyof ServerConfig = keyof ServerConfig> {
  key: K;
  flag: `--${string}`;
  env: `TASKWIRE_${string}`;
  type: OptionType;
  default: ServerConfig[K];
  description: string;
  /** The flag may be given several times; the values are joined with commas (as its env var lists them). */
  repeatable?: true;
}

const int = (min: number, max: number): OptionType => ({ kind: 'integer', min, max });
const KiB = 1024;
const MiB = 1024 * KiB;
const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** Every option of ServerConfig, in documentation order. */
export const OPTIONS: readonly OptionSpec[] = [
  {
    key: 'port',
    flag: '--port',
    env: 'TASKWIRE_PORT',
    type: int(0, 65535),
    default: 8080,
    description: 'TCP port to listen on (0 picks a free port).',
  },
  {
    key: 'host',
    flag: '--host',
    env: 'TASKWIRE_HOST',
    type: { kind: 'string' },
    default: '127.0.0.1',
    description: 'Interface to bind (0.0.0.0 for all).',
  },
  {
    key: 'engine',
    flag: '--engine',
    env: 'TASKWIRE_ENGINE',
    type: { kind: 'enum', values: ['memory', 'sqlite', 'redis'] },
    default: 'sqlite',
    description:
      'Storage and broker engine: sqlite (durable, one file at --db, one node), memory (tests and throwaway runs: a restart loses everything), redis (several nodes).',
  },
  {
    key: 'db',
    flag: '--db',
    env: 'TASKWIRE_DB',
    type: { kind: 'string' },
    default: './taskwire.db',
    description: 'SQLite database file (sqlite engine).',
  },
  {
    key: 'redisUrl',
    flag: '--redis',
    env: 'TASKWIRE_REDIS_URL',
    type: { kind: 'secret' },
    default: null,
    description: 'Redis URL, redis://host:port (redis engine).',
  },
  {
    key: 'redisCluster',
    flag: '--redis-cluster',
    env: 'TASKWIRE_REDIS_CLUSTER',
    type: { kind: 'secret' },
    default: null,
    description: 'Redis Cluster seed URLs, comma-separated (redis engine on a cluster; instead of --redis).',
  },
  {
    key: 'redisPrefix',
    flag: '--redis-prefix',
    env: 'TASKWIRE_REDIS_PREFIX',
    type: { kind: 'string' },
    default: 'tw',
    description: 'Prefix of every Redis key (several deployments on one Redis).',
  },
  {
    key: 'jwtSecret',
    flag: '--jwt-secret',
    env: 'TASKWIRE_JWT_SECRET',
    type: { kind: 'secret' },
    default: null,
    description: 'HS256 secret for client tokens (at least 32 bytes).',
  },
  {
    key: 'jwtPublicKey',
    flag: '--jwt-public-key',
    env: 'TASKWIRE_JWT_PUBLIC_KEY',
    type: { kind: 'secret' },
    default: null,
    description: 'RS256/ES256 public key for client tokens: PEM text or a path to a PEM file.',
  },
  {
    key: 'jwtAlgorithm',
    flag: '--jwt-algorithm',
    env: 'TASKWIRE_JWT_ALGORITHM',
    type: { kind: 'enum', values: ['HS256', 'RS256', 'ES256'] },
    default: 'HS256',
    description: 'The only JWT algorithm accepted (inferred from --jwt-public-key when unset).',
  },
  {
    key: 'apiKey',
    flag: '--api-key',
    env: 'TASKWIRE_API_KEY',
    type: { kind: 'secret' },
    default: null,
    description: 'API key for backends (Authorization: Bearer <key>).',
  },
  {
    key: 'heartbeatMs',
    flag: '--heartbeat-ms',
    env: 'TASKWIRE_HEARTBEAT_MS',
    type: int(1000, 600_000),
    default: 25_000,
    description: 'WebSocket ping interval, ms; a peer missing two pings is dropped.',
  },
  {
    key: 'logLevel',
    flag: '--log-level',
    env: 'TASKWIRE_LOG_LEVEL',
    type: { kind: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    default: 'info',
    description: 'Log level.',
  },
  {
    key: 'logFormat',
    flag: '--log-format',
    env: 'TASKWIRE_LOG_FORMAT',
    type: { kind: 'enum', values: ['auto', 'json', 'pretty'] },
    default: 'auto',
    description:
      'Log lines as JSON, or pretty (human-readable, pino-pretty); auto: pretty in --dev on a terminal, else JSON.',
  },
  {
    key: 'dev',
    flag: '--dev',
    env: 'TASKWIRE_DEV',
    type: { kind: 'boolean' },
    default: false,
    description: 'Development mode: missing secrets are generated and printed.',
  },
  {
    key: 'maxFrameBytes',
    flag: '--max-frame-bytes',
    env: 'TASKWIRE_MAX_FRAME_BYTES',
    type: int(1 * KiB, 16 * MiB),
    default: 64 * KiB,
    description: 'Largest client WebSocket message, bytes; larger closes with 1009.',
  },
  {
    key: 'maxSubscriptionsPerConnection',
    flag: '--max-subscriptions',
    env: 'TASKWIRE_MAX_SUBSCRIPTIONS',
    type: int(1, 100_000),
    default: 100,
    description: 'Subscriptions one connection may hold.',
  },
  {
    key: 'maxConnections',
    flag: '--max-connections',
    env: 'TASKWIRE_MAX_CONNECTIONS',
    type: int(1, 10_000_000),
    default: 10_000,
    description:
      'Connections per node, WebSocket, SSE and waiting long-polls together; over it a WebSocket closes with 4029, SSE and long-poll answer 429.',
  },
  {
    key: 'maxConnectionsPerUser',
    flag: '--max-connections-per-user',
    env: 'TASKWIRE_MAX_CONNECTIONS_PER_USER',
    type: int(1, 10_000_000),
    default: 100,
    description: 'Connections per user per node, every transport together; over it 4029 or 429 as above.',
  },
  {
    key: 'maxPendingAuth',
    flag: '--max-pending-auth',
    env: 'TASKWIRE_MAX_PENDING_AUTH',
    type: int(1, 10_000_000),
    default: 1000,
    description:
      'WebSockets waiting to authenticate (they hold no connection slot); when full, the oldest is closed with 4501 to admit the new one.',
  },
  {
    key: 'authTimeoutMs',
    flag: '--auth-timeout-ms',
    env: 'TASKWIRE_AUTH_TIMEOUT_MS',
    type: int(100, 600_000),
    default: 5000,
    description: 'Time a new connection has to authenticate, ms.',
  },
  {
    key: 'sendBufferBytes',
    flag: '--send-buffer-bytes',
    env: 'TASKWIRE_SEND_BUFFER_BYTES',
    type: int(1 * KiB, 1024 * MiB),
    default: 1 * MiB,
    description: 'Outbound buffer per connection, bytes; over it closes with 4009.',
  },
  {
    key: 'historySize',
    flag: '--history-size',
    env: 'TASKWIRE_HISTORY_SIZE',
    type: int(1, 1_000_000),
    default: 1000,
    description: 'Events kept per channel.',
  },
  {
    key: 'historyTtlMs',
    flag: '--history-ttl-ms',
    env: 'TASKWIRE_HISTORY_TTL_MS',
    type: int(1000, 30 * 24 * HOUR),
    default: 24 * HOUR,
    description: 'Age after which channel events are trimmed, ms.',
  },
  {
    key: 'streamMaxBytes',
    flag: '--stream-max-bytes',
    env: 'TASKWIRE_STREAM_MAX_BYTES',
    type: int(1 * KiB, 1024 * MiB),
    default: 1 * MiB,
    description: 'Most UTF-8 bytes one task stream may hold; a chunk over it is refused with 400.',
  },
  {
    key: 'taskTtlMs',
    flag: '--task-ttl',
    env: 'TASKWIRE_TASK_TTL',
    type: { kind: 'duration', min: 0, max: 3650 * DAY },
    default: 7 * DAY,
    description:
      'A task terminal for longer than this is deleted with its tree, history and streams (e.g. 2s, 12h, 7d); 0 keeps tasks for ever.',
  },
  {
    key: 'recoveryLimit',
    flag: '--recovery-limit',
    env: 'TASKWIRE_RECOVERY_LIMIT',
    type: int(1, 1_000_000),
    default: 500,
    description: 'Most missed events replayed on resubscribe; more → recovered:false.',
  },
  {
    key: 'clockLeewaySec',
    flag: '--clock-leeway-sec',
    env: 'TASKWIRE_CLOCK_LEEWAY_SEC',
    type: int(0, 3600),
    default: 5,
    description: 'Clock skew tolerated on token expiry, seconds.',
  },
  {
    key: 'stallSweepMs',
    flag: '--stall-sweep-ms',
    env: 'TASKWIRE_STALL_SWEEP_MS',
    type: int(10, 600_000),
    default: 1000,
    description: 'How often stalled tasks are looked for, ms.',
  },
  {
    key: 'shutdownTimeoutMs',
    flag: '--shutdown-timeout-ms',
    env: 'TASKWIRE_SHUTDOWN_TIMEOUT_MS',
    type: int(0, 600_000),
    default: 10_000,
    description: 'Longest graceful shutdown, ms.',
  },
  {
    key: 'maxPendingFrames',
    flag: '--max-pending-frames',
    env: 'TASKWIRE_MAX_PENDING_FRAMES',
    type: int(1, 100_000),
    default: 100,
    description:
      'Client frames queued for processing per connection; at it, the socket is no longer read until half of them are done (TCP slows the sender; nothing is refused).',
  },
  {
    key: 'webhookUrls',
    flag: '--webhook-url',
    env: 'TASKWIRE_WEBHOOK_URLS',
    type: { kind: 'secret' },
    default: null,
    repeatable: true,
    description:
      'Webhook endpoint, http: or https: (repeat the flag, or comma-separate in the env var); needs --webhook-secret.',
  },
  {
    key: 'webhookSecret',
    flag: '--webhook-secret',
    env: 'TASKWIRE_WEBHOOK_SECRET',
    type: { kind: 'secret' },
    default: null,
    description: 'Standard Webhooks signing secret: whsec_ and the base64 of 24-64 random bytes.',
  },
  {
    key: 'webhookEvents',
    flag: '--webhook-events',
    env: 'TASKWIRE_WEBHOOK_EVENTS',
    type: { kind: 'string' },
    default: 'all',
    description: 'Event types sent, comma-separated (see docs/webhooks.md), or all.',
  },
  {
    key: 'webhookRetrySchedule',
    flag: '--webhook-retry-schedule',
    env: 'TASKWIRE_WEBHOOK_RETRY_SCHEDULE',
    type: { kind: 'string' },
    default: '5s,5m,30m,2h,5h,10h,10h',
    description:
      'Delays before each retry of a failed delivery (ms, s, m, h), each with up to 10 % jitter; then failed.',
  },
  {
    key: 'webhookTimeoutMs',
    flag: '--webhook-timeout-ms',
    env: 'TASKWIRE_WEBHOOK_TIMEOUT_MS',
    type: int(100, 120_000),
    default: 10_000,
    description: 'A webhook request without an answer in this time is a failed attempt, ms.',
  },
  {
    key: 'metricsToken',
    flag: '--metrics-token',
    env: 'TASKWIRE_METRICS_TOKEN',
    type: { kind: 'secret' },
    default: null,
    description: 'Bearer token required on GET /metrics (none: /metrics needs no auth).',
  },
];

/** An option's default as the table and the help show it. */
export function shownDefault(spec: OptionSpec): string {
  if (spec.default === null) return '(none)';
  return spec.type.kind === 'duration' ? formatDuration(spec.default as number) : String(spec.default);
}

/** The default of one option. */
export function defaultOf<K extends keyof ServerConfig>(key: K): ServerConfig[K] {
  const spec = OPTIONS.find((o) => o.key === key);
  if (!spec) throw new Error(`no option ${key}`);
  return spec.default as ServerConfig[K];
}

/**
 * The server's fixed values that are not options, each defined here only (constructor
 * options of the engines and services default to them). docs/configuration.md lists
 * them; a test keeps the two in sync.
 */
export const TUNING = {
  /** Attempts of one task change under compare-and-set contention before `conflict`. */
  changeAttempts: 20,
  /** Tasks read per query of a stall sweep. */
  stallSweepBatch: 100,
  /** SQLite: time between retention sweeps, ms. */
  sqliteSweepIntervalMs: 30_000,
  /** SQLite: rows deleted per sweep statement before yielding to the event loop. */
  sqliteSweepBatch: 1000,
  /** SQLite: how long a write waits for the database lock before failing, ms. */
  sqliteBusyTimeoutMs: 5000,
  /** Retention: top-level tasks read per page of a sweep (each deleted with its tree). */
  retentionSweepBatch: 100,
  /** Retention: trees deleted per engine call (one SQLite transaction). */
  retentionDeleteBatch: 20,
  /** Retention: the sweep yields to the event loop after this much work, ms. */
  retentionSliceMs: 10,
  /** Retention: pages per sweep at most (the next sweep goes on). */
  retentionSweepRounds: 100,
  /** Retention: the sweep runs every tenth of --task-ttl, but at least this often, ms. */
  retentionSweepMaxMs: 60_000,
  /** Retention: and at most this often, ms. */
  retentionSweepMinMs: 1000,
  /** WebSocket: how long a socket the server closed may take to close before it is terminated, ms. */
  closeGraceMs: 2000,
  /** Webhooks: how often the outbox is polled for due messages, ms. */
  webhookPollMs: 500,
  /** Webhooks: requests in flight at most per node. */
  webhookConcurrency: 16,
} as const;
