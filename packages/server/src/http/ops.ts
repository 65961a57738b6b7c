/**
 * Operational routes: `POST /api/v1/tickets` (client token → single-use ticket),
 * `GET /api/v1/stats` (admin token or API key), and, at the root,
 * `GET /healthz` (process up) and `GET /readyz` (engine reachable, else 503).
 */
import type { FastifyInstance, FastifySchema } from 'fastify';
import { TaskwireError, TicketResponse } from '@taskwire/protocol';
import { requireAdminOrApiKey, requirePrincipal } from './auth-hook.js';
import { RETRY_AFTER_SECONDS, errorBody } from './errors.js';
import { Bodies, SECURITY, errorResponses, jsonResponse } from './openapi-schemas.js';
import type { HttpContext, ServerStats, TypedApp } from './types.js';

export function registerOpsRoutes(app: TypedApp, ctx: HttpContext, stats: () => ServerStats): void {
  const ticketSchema = {
    summary: 'Issue a single-use ticket for the calling client token',
    description:
      'A ticket valid 30 s, accepted once as `?ticket=` on /api/v1/ws and on the SSE route, so long-lived tokens need not travel in URLs.',
    tags: ['auth'],
    security: [{ bearerJwt: [] }],
    response: {
      200: jsonResponse('The ticket and its expiry (ISO 8601).', TicketResponse),
      ...errorResponses(401, 403),
    },
  };
  app.post('/tickets', { schema: ticketSchema }, async (req) => {
    const p = requirePrincipal(req);
    if (p.apiKey) throw new TaskwireError('forbidden', 'tickets are issued for client tokens, not the API key');
    return await ctx.auth.issueTicket(p);
  });

  const statsSchema = {
    summary: 'Node statistics (admin token or API key)',
    description:
      'Connections (total and by transport), subscriptions, channels, events in/out and their rates, slow-consumer closes.',
    tags: ['operations'],
    security: SECURITY.admin,
    response: { 200: jsonResponse('The statistics of this node.', Bodies.stats), ...errorResponses(401, 403) },
  };
  app.get('/stats', { schema: statsSchema }, (req, reply) => {
    requireAdminOrApiKey(req);
    return reply.send(stats());
  });
}

export function registerHealthRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const healthSchema: FastifySchema = {
    summary: 'Liveness: the process is up',
    tags: ['operations'],
    security: SECURITY.none,
    response: { 200: jsonResponse('Up.', Bodies.status), ...errorResponses() },
  };
  app.get('/healthz', { schema: healthSchema }, (_req, reply) => reply.send({ status: 'ok' }));
  const readySchema: FastifySchema = {
    summary: 'Readiness: the engine is reachable',
    tags: ['operations'],
    security: SECURITY.none,
    response: { 200: jsonResponse('Ready, with the engine kind.', Bodies.status), ...errorResponses() },
  };
  app.get('/readyz', { schema: readySchema }, async (req, reply) => {
    try {
      await ctx.engine.ping();
      return { status: 'ok', engine: ctx.engine.kind };
    } catch (err) {
      req.log.warn({ err }, 'readiness check failed');
      const why = err instanceof TaskwireError ? `: ${err.message}` : ' (not reachable)';
      return reply
        .code(503)
        .header('retry-after', String(RETRY_AFTER_SECONDS))
        .send(errorBody('unavailable', `engine ${ctx.engine.kind} is not ready${why}`));
    }
  });
}
