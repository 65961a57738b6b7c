/** Resolved server configuration: every option with its default applied and validated (see config.ts). */
export interface ServerConfig {
  port: number; // 8080
  host: string; // 127.0.0.1
  engine: 'memory' | 'sqlite' | 'redis'; // sqlite
  db: string; // ./taskwire.db
  redisUrl: string | null;
  /** Redis Cluster seed URLs, comma-separated. */
  redisCluster: string | null;
  redisPrefix: string; // tw
  jwtSecret: string | null;
  jwtPublicKey: string | null; // PEM (or a path to a PEM file, read at start)
  jwtAlgorithm: 'HS256' | 'RS256' | 'ES256'; // HS256 with a secret; RS256/ES256 with a public key
  apiKey: string | null;
  heartbeatMs: number; // 25000
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'; // info
  /** auto: pretty with --dev on a terminal, else json. */
  logFormat: 'auto' | 'json' | 'pretty';
  dev: boolean;
  /** Max client frame after reassembly, bytes (64 KiB); larger → close 1009. */
  maxFrameBytes: number;
  maxSubscriptionsPerConnection: number; // 100
  maxConnections: number; // 10000 per node
  maxConnectionsPerUser: number; // 100
  /** WebSockets authenticating at once; the oldest is closed 4501 to admit a new one. */
  maxPendingAuth: number; // 1000
  authTimeoutMs: number; // 5000
  /** Outbound buffer per connection, bytes (1 MiB); over it → close 4009. */
  sendBufferBytes: number;
  historySize: number; // 1000 events per channel
  historyTtlMs: number; // 24 h
  /** Bytes one task stream may hold (1 MiB). */
  streamMaxBytes: number;
  /** A task terminal for longer than this is deleted with its tree, ms; 0 = never (7 days). */
  taskTtlMs: number;
  recoveryLimit: number; // 500
  clockLeewaySec: number; // 5
  stallSweepMs: number; // 1000
  shutdownTimeoutMs: number; // 10000
  /** Frames a connection may have queued for processing before its socket stops being read. */
  maxPendingFrames: number; // 100
  /** Webhook endpoints, comma-separated; null: no webhooks. */
  webhookUrls: string | null;
  /** `whsec_…`; required with webhookUrls. */
  webhookSecret: string | null;
  /** Comma-separated event types, or `all`. */
  webhookEvents: string;
  /** Comma-separated delays (`5s,5m,…`). */
  webhookRetrySchedule: string;
  webhookTimeoutMs: number; // 10000
  /** Bearer token required on GET /metrics; null: /metrics needs no auth. */
  metricsToken: string | null;
}
