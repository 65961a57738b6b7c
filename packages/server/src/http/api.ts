/**
 * The `/api/v1` HTTP API as one encapsulated Fastify plugin: TypeBox validation
 * with the schemas of @taskwire/protocol, the auth hook, the 1 MiB body limit,
 * one error handler and a coded 404 for unknown routes. Register it with
 * `{ prefix: '/api/v1' }`.
 */
import type { HttpContext, ServerStats } from './types.js';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { LIMITS, TaskwireError, jsonTextTooDeep, tooDeepMessage } from '@taskwire/protocol';
import { registerAuthHook } from './auth-hook.js';
import { registerChannelRoutes } from './channels.js';
import { registerDevRoutes } from './dev.js';
import { errorHandler, notFoundHandler } from './errors.js';
import type { LongPollRegistry } from './longpoll.js';
import { prepareScope } from './openapi-schemas.js';
import { registerOpsRoutes } from './ops.js';
import { registerSseRoute } from './sse.js';
import type { SseGateway } from './sse-stream.js';
import { registerTaskRoutes } from './tasks.js';
import { validatorCompiler } from './validator.js';
import { registerWebhookRoutes } from './webhooks.js';

export interface HttpApiOptions {
  ctx: HttpContext;
  stats: () => ServerStats;
  /** The SSE streams (`GET /channels/:channel/events`). */
  sse: SseGateway;
  /** The waiting long-poll requests (`GET /channels/:channel/history?wait=`). */
  polls: LongPollRegistry;
}

export async function httpApi(scope: FastifyInstance, opts: HttpApiOptions): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  prepareScope(app);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  app.addHook('onRoute', (route) => {
    route.bodyLimit ??= LIMITS.bodyBytes;
  });
  // JSON bodies with the default (prototype-poisoning-safe) parser; an empty body is no body,
  // so `curl -X POST -H 'Content-Type: application/json' …/cancel` works.
  const json = app.getDefaultJsonParser('error', 'error');
  // JSON only: any other media type answers 415 (no text/plain body reaches a route as a string).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: LIMITS.bodyBytes },
    (req, body, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (text.trim() === '') {
        done(null, undefined);
        return;
      }
      // Before anything is parsed: the body object is one level, a value in it may nest LIMITS.jsonDepth deep.
      if (jsonTextTooDeep(text, LIMITS.jsonDepth + 1)) {
        done(new TaskwireError('bad_request', tooDeepMessage('a value of the body')), undefined);
        return;
      }
      void json(req, text, done);
    },
  );
  registerAuthHook(app, opts.ctx.auth);
  registerTaskRoutes(app, opts.ctx);
  registerChannelRoutes(app, opts.ctx.channels, opts.polls);
  registerSseRoute(app, opts.ctx.channels, opts.sse);
  registerOpsRoutes(app, opts.ctx, opts.stats);
  registerWebhookRoutes(app, opts.ctx);
  registerDevRoutes(app, opts.ctx);
  await Promise.resolve();
}
