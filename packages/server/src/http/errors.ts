/**
 * One error shape for every HTTP answer: `{"error":{"code","message"}}` with the
 * catalogue's status. TaskwireError → its status; AuthError → 401; Fastify
 * validation errors → 400 bad_request with a readable message; a body over the
 * limit → 413 too_large; malformed JSON → 400; anything else → 500 internal,
 * logged, with a generic message.
 */
import type { Duplex } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TaskwireError, fieldPath, httpStatusOf, type ErrorCode } from '@taskwire/protocol';
import { AuthError } from '../auth/types.js';
import { redactString } from '../logging/logger.js';

/** The longest path parameter (channel names are up to 133 characters). */
export const MAX_PARAM_LENGTH = 256;

export interface HttpErrorBody {
  error: { code: ErrorCode; message: string };
}

export function errorBody(code: ErrorCode, message: string): HttpErrorBody {
  return { error: { code, message } };
}

interface Classified {
  status: number;
  body: HttpErrorBody;
  /** Unexpected: log with the stack. */
  unexpected: boolean;
}

function statusError(err: unknown): {
  statusCode?: number;
  code?: string;
  message: string;
  validation?: unknown;
  validationContext?: string;
} {
  if (err instanceof Error) return err;
  return { message: String(err) };
}

export function classifyError(err: unknown): Classified {
  if (err instanceof TaskwireError)
    return { status: err.status, body: errorBody(err.code, err.message), unexpected: false };
  if (err instanceof AuthError) return { status: 401, body: errorBody('unauthorized', err.message), unexpected: false };
  const e = statusError(err);
  if (e.validation !== undefined) {
    return {
      status: 400,
      body: errorBody('bad_request', describeValidation(e.validation, e.validationContext)),
      unexpected: false,
    };
  }
  switch (e.code) {
    // Raised before any route runs (Fastify's frameworkErrors): never echo the URL back.
    case 'FST_ERR_BAD_URL':
      return {
        status: 400,
        body: errorBody('bad_request', 'the URL is malformed (a bad percent-encoding)'),
        unexpected: false,
      };
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return {
        status: 414,
        body: errorBody('too_large', `a path segment is over ${MAX_PARAM_LENGTH} characters`),
        unexpected: false,
      };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: errorBody('too_large', 'request body is over the 1 MiB limit'), unexpected: false };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, body: errorBody('bad_request', 'request body is not valid JSON'), unexpected: false };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        body: errorBody('bad_request', 'request body must be application/json'),
        unexpected: false,
      };
  }
  if (err instanceof SyntaxError)
    return { status: 400, body: errorBody('bad_request', 'request body is not valid JSON'), unexpected: false };
  const status = e.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code: ErrorCode =
      status === 404
        ? 'not_found'
        : status === 413
          ? 'too_large'
          : status === 429
            ? 'rate_limited'
            : status === 401
              ? 'unauthorized'
              : status === 403
                ? 'forbidden'
                : 'bad_request';
    return {
      status: httpStatusOf(code),
      body: errorBody(code, redactString(e.message).slice(0, 500)),
      unexpected: false,
    };
  }
  if (status === 503)
    return {
      status: 503,
      body: errorBody('unavailable', 'server is shutting down or the engine is unavailable'),
      unexpected: false,
    };
  return { status: 500, body: errorBody('internal', 'internal server error (logged)'), unexpected: true };
}

interface ValidationIssue {
  keyword?: string;
  instancePath?: string;
  params?: Record<string, unknown>;
  message?: string;
}

/**
 * One readable line from the validator's errors: the first failing field, with
 * union noise removed (`status must be one of queued, running, …`,
 * `unknown field extra`, `owner is required`, `title must not have more than 200 characters`).
 */
export function describeValidation(issues: unknown, context: string | undefined): string {
  const list = (Array.isArray(issues) ? issues : []) as ValidationIssue[];
  const where =
    context === 'querystring'
      ? 'query parameter '
      : context === 'params'
        ? 'path parameter '
        : context === 'headers'
          ? 'header '
          : '';
  const extra = list.find((e) => e.keyword === 'additionalProperties');
  if (extra) {
    const names = (extra.params?.additionalProperties as unknown[] | undefined)?.join(', ') ?? '';
    return `unknown ${where === '' ? 'field ' : where}${names}`.trim();
  }
  const first = list[0];
  if (!first) return 'request is invalid';
  const path = first.instancePath ?? '';
  const field =
    path === ''
      ? context === 'querystring'
        ? 'query'
        : context === 'params'
          ? 'path'
          : 'body'
      : `${where}${fieldPath(path)}`;
  if (first.keyword === 'required') {
    const names = (first.params?.requiredProperties as unknown[] | undefined)?.join(', ') ?? 'a field';
    return `${path === '' ? `${where}` : `${field}: `}${names} is required`;
  }
  const at = list.filter((e) => (e.instancePath ?? '') === path && e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
  if (at.length > 0 && at.every((e) => e.keyword === 'const')) {
    return `${field} must be one of ${at.map((e) => String(e.params?.allowedValue)).join(', ')}`;
  }
  const specific = at.filter((e) => !(e.keyword === 'type' && e.params?.type === 'null'));
  const pick = specific[0] ?? at[0] ?? first;
  return `${field} ${pick.message ?? 'is invalid'}`.slice(0, 500);
}

/** Seconds a client should wait before retrying a 503 (the engine is away, or the server is stopping). */
export const RETRY_AFTER_SECONDS = 1;

export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const c = classifyError(err);
  if (c.unexpected) reply.log.error({ err }, 'unexpected error');
  if (c.status === 503) void reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  return reply.code(c.status).type('application/json; charset=utf-8').send(c.body);
}

export function errorHandler(err: unknown, _req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendError(reply, err);
}

/** Fastify's `frameworkErrors`: a bad URL or an over-long parameter, before any route runs. */
export function frameworkErrorHandler(err: unknown, _req: FastifyRequest, reply: FastifyReply): void {
  void sendError(reply, err);
}

/**
 * Fastify's `clientErrorHandler`: a request Node could not even parse (headers over
 * the limit, malformed HTTP, too slow to arrive) gets the same error shape, then the
 * socket is closed, as Node does.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, text, code, message]: [number, string, ErrorCode, string] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'too_large', 'the request headers are over the size limit']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'bad_request', 'the request took too long to arrive']
        : [400, 'Bad Request', 'bad_request', 'the HTTP request is malformed'];
  const body = JSON.stringify(errorBody(code, message));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

export function notFoundHandler(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = req.url.split('?')[0] ?? '';
  return reply.code(404).send(errorBody('not_found', `no route ${req.method} ${path.slice(0, 200)}`));
}
