/**
 * Operational routes: `POST /api/v1/tickets` (client token → single-use ticket),
 * `GET /api/v1/stats` (admin token or API key), and, at the root,
 * `GET /healthz` (process up) and `GET /readyz` (engine reachable, else 503).
 */
import type { FastifyInstance } from 'fastify';
import { TaskwireError } from '@taskwire/protocol';
import type { ServerContext } from '../context.js';
import type { ServerStats } from '../server-types.js';
import { requireAdminOrApiKey, requirePrincipal } from './auth-hook.js';
import { errorBody } from './errors.js';
import type { TypedApp } from './types.js';

export function registerOpsRoutes(app: TypedApp, ctx: ServerContext, stats: () => ServerStats): void {
  app.post('/tickets', async (req) => {
    const p = requirePrincipal(req);
    if (p.apiKey) throw new TaskwireError('forbidden', 'tickets are issued for client tokens, not the API key');
    return await ctx.auth.issueTicket(p);
  });

  app.get('/stats', (req, reply) => {
    requireAdminOrApiKey(req);
    return reply.send(stats());
  });
}

export function registerHealthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/healthz', (_req, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', async (req, reply) => {
    try {
      await ctx.engine.ping();
      return { status: 'ok', engine: ctx.engine.kind };
    } catch (err) {
      req.log.warn({ err }, 'readiness check failed');
      return reply.code(503).send(errorBody('unavailable', `engine ${ctx.engine.kind} is not reachable`));
    }
  });
}
