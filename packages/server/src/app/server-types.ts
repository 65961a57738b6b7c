import type { FastifyInstance } from 'fastify';
import type { ServerStats } from '../http/types.js';
import type { ServerContext } from './context.js';

export type { ServerStats };

export interface TaskwireServer {
  readonly app: FastifyInstance;
  readonly ctx: ServerContext;
  /** Listen on config.port/host (port 0 picks a free port). */
  listen(): Promise<{ port: number; host: string; url: string }>;
  /** Graceful: stop accepting, close every socket with 1012, stop sweeps, close the engine. Idempotent. */
  close(): Promise<void>;
  stats(): ServerStats;
}
