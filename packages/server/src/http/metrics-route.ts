/**
 * `GET /metrics`: the Prometheus text exposition of this server's registry. No auth
 * by default; with `--metrics-token` (TASKWIRE_METRICS_TOKEN) it needs
 * `Authorization: Bearer <metrics token>` (compared in constant time), else 401.
 *
 * `countHttpRequests()` adds the `taskwire_http_requests_total{method,route,status}`
 * hook: one counter increment per answered request, labelled by the route pattern
 * (never the raw URL, so the label set stays bounded).
 */
import type { HttpContext } from './types.js';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { createApiKeyCheck } from '../auth/api-key.js';
import { errorBody } from './errors.js';
import { SECURITY, errorResponses } from './openapi-schemas.js';
import type { Metrics } from '../metrics/metrics.js';

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

export function registerMetricsRoute(app: FastifyInstance, ctx: HttpContext): void {
  const { metrics } = ctx;
  const token = ctx.config.metricsToken;
  const check = token === null || token === '' ? null : createApiKeyCheck(token);
  const schema: FastifySchema = {
    summary: 'Prometheus metrics',
    description:
      'Connections by transport, subscriptions, channels, events published and delivered, delivery latency, slow-consumer closes, auth failures, engine latency and errors, HTTP requests, process metrics. See docs/operations.md. Needs `Authorization: Bearer <metrics token>` only when --metrics-token is set.',
    tags: ['operations'],
    security: check ? SECURITY.metrics : SECURITY.none,
    response: {
      200: {
        description: 'Prometheus text exposition format 0.0.4.',
        content: { 'text/plain': { schema: { type: 'string' } } },
      },
      ...errorResponses(...(check ? [401] : [])),
    },
  };
  app.get('/metrics', { schema }, async (req, reply) => {
    if (check) {
      const m = BEARER.exec(req.headers.authorization ?? '');
      if (!m?.[1] || !check(m[1])) {
        metrics.authFailures.inc({ reason: m ? 'invalid' : 'missing' });
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer')
          .send(errorBody('unauthorized', '/metrics needs Authorization: Bearer <metrics token>'));
      }
    }
    const body = await metrics.render();
    return reply.type(metrics.contentType).send(body);
  });
}

/** Count every answered request of `app` (and its children) by method, route pattern and status. */
export function countHttpRequests(app: FastifyInstance, metrics: Metrics): void {
  const counter = metrics.httpRequests;
  app.addHook('onResponse', (req, reply, done) => {
    counter.count(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode);
    done();
  });
}
