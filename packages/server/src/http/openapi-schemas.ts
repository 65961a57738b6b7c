/**
 * The OpenAPI side of the route schemas: the shared `Task` and `ErrorResponse`
 * schemas (referenced as `Task#` / `ErrorResponse#`, listed under
 * `components.schemas`), the error responses of a route, the response bodies, and
 * the security requirements (see ./docs.ts for the schemes).
 *
 * Response schemas document; they do not change what is sent: `prepareScope()` sets
 * a serializer that is plain `JSON.stringify`, exactly as without a schema (a snapshot
 * a change just committed is not serialized again: its text is taken from its events,
 * `jsonOfSnapshot` in tasks/commits.ts).
 */
import type { FastifyInstance } from 'fastify';
import { ErrorResponseSchema, TaskSchema, httpStatusOf, type ErrorCode } from '@taskwire/protocol';
import { Type } from 'typebox';
import { jsonOfSnapshot } from '../tasks/commits.js';

export const TASK_REF = { $ref: 'Task#' } as const;
export const ERROR_REF = { $ref: 'ErrorResponse#' } as const;

/** The error codes each status carries (docs/protocol.md §2 "Errors"). */
const STATUS_CODES: Record<number, ErrorCode[]> = {};
for (const code of [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'rate_limited',
  'too_large',
  'limit_exceeded',
  'unavailable',
  'internal',
] as const) {
  (STATUS_CODES[httpStatusOf(code)] ??= []).push(code);
}

const WHEN: Record<number, string> = {
  400: 'a parameter or the body is invalid',
  401: 'credentials missing, invalid or expired',
  403: 'the credentials do not allow this',
  404: 'not found (another user\u2019s task answers the same)',
  409: 'conflict with the current state (illegal transition, existing id)',
  413: 'the body is over 1 MiB',
  429: 'a limit was reached',
  500: 'unexpected server error (logged)',
  503: 'the server is shutting down or the engine is unavailable',
};

export interface ResponseDoc {
  description: string;
  content: Record<string, { schema: unknown }>;
}

const json = (description: string, schema: unknown): ResponseDoc => ({
  description,
  content: { 'application/json': { schema } },
});

/** The listed error statuses, plus 500 and 503 (any route), each with the ErrorResponse body. */
export function errorResponses(...statuses: number[]): Record<number, ResponseDoc> {
  const out: Record<number, ResponseDoc> = {};
  for (const status of [...statuses, 500, 503]) {
    const codes = (STATUS_CODES[status] ?? []).map((c) => `\`${c}\``).join(', ');
    out[status] = json(`${codes}: ${WHEN[status] ?? 'error'}`, ERROR_REF);
  }
  return out;
}

export const taskResponse = (description = 'The task snapshot.'): ResponseDoc => json(description, TASK_REF);
export const jsonResponse = json;

const PositionSchema = Type.Object({ epoch: Type.String(), offset: Type.Integer({ minimum: 0 }) });

export const Bodies = {
  taskList: Type.Object({ tasks: Type.Array(TASK_REF), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
  position: PositionSchema,
  history: Type.Object({
    channel: Type.String(),
    epoch: Type.String(),
    offset: Type.Integer({ minimum: 0 }),
    recovered: Type.Boolean(),
    events: Type.Array(
      Type.Object({
        type: Type.Literal('event'),
        channel: Type.String(),
        epoch: Type.String(),
        offset: Type.Integer(),
        time: Type.Integer({ description: 'ms since the Unix epoch, when the engine stored the event' }),
        data: Type.Unknown(),
      }),
    ),
  }),
  stats: Type.Object({
    connections: Type.Integer(),
    connectionsByTransport: Type.Object({ ws: Type.Integer(), sse: Type.Integer(), longpoll: Type.Integer() }),
    pendingAuth: Type.Integer({ description: 'WebSockets that have not authenticated yet (counted in ws).' }),
    subscriptions: Type.Integer(),
    channels: Type.Integer(),
    engineSubscriptions: Type.Integer(),
    timers: Type.Integer(),
    eventsIn: Type.Integer(),
    eventsOut: Type.Integer(),
    eventsInPerSecond: Type.Number(),
    eventsOutPerSecond: Type.Number(),
    slowConsumerCloses: Type.Integer(),
  }),
  status: Type.Object({ status: Type.Literal('ok'), engine: Type.Optional(Type.String()) }),
} as const;

/** Security requirements (schemes defined in ./docs.ts). */
export const SECURITY = {
  backend: [{ apiKey: [] }],
  client: [{ bearerJwt: [] }, { apiKey: [] }],
  admin: [{ bearerJwt: [] }, { apiKey: [] }],
  stream: [{ bearerJwt: [] }, { apiKey: [] }, { queryToken: [] }, { queryTicket: [] }],
  none: [],
  metrics: [{ metricsToken: [] }],
} as const;

/** Share the Task and ErrorResponse schemas in this scope and serialize with plain JSON.stringify (see above). */
export function prepareScope(scope: FastifyInstance): void {
  if (scope.getSchema('Task') === undefined) scope.addSchema(TaskSchema);
  if (scope.getSchema('ErrorResponse') === undefined) scope.addSchema(ErrorResponseSchema);
  scope.setSerializerCompiler(() => jsonOfSnapshot);
}
