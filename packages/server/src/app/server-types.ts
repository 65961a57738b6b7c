import type { FastifyInstance } from 'fastify';
import type { ServerContext } from './context.js';

export interface ServerStats {
  /** Every transport: WebSocket connections, SSE streams and waiting long-poll requests. */
  connections: number;
  connectionsByTransport: { ws: number; sse: number; longpoll: number };
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

export interface TaskwireServer {
  readonly app: FastifyInstance;
  readonly ctx: ServerContext;
  /** Listen on config.port/host (port 0 picks a free port). */
  listen(): Promise<{ port: number; host: string; url: string }>;
  /** Graceful: stop accepting, close every socket with 1012, stop sweeps, close the engine. Idempotent. */
  close(): Promise<void>;
  stats(): ServerStats;
}
