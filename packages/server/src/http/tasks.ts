/**
 * Task routes (PROTOCOL §4). Backend writes (create, update, logs, approval) need
 * the API key; reads and the owner's actions (decision, cancel) take the owner's
 * token, an admin token or the API key. Another user's task answers 404
 * `not_found`, exactly like a missing one, so ids cannot be probed.
 */
import type { FastifyRequest } from 'fastify';
import {
  ApprovalBody,
  CreateTaskBody,
  DecisionBody,
  LIMITS,
  ListTasksQuery,
  LogsBody,
  TaskIdParams,
  TaskwireError,
  UpdateTaskBody,
  jsonByteLength,
  utf8Length,
  type JsonValue,
  type Task,
} from '@taskwire/protocol';
import type { ServerContext } from '../context.js';
import { canReadTask, type CreateTaskInput, type UpdateTaskInput } from '../tasks/types.js';
import type { Principal } from '../auth/types.js';
import { requireApiKey, requirePrincipal } from './auth-hook.js';
import type { TypedApp } from './types.js';

export function registerTaskRoutes(app: TypedApp, ctx: ServerContext): void {
  const { tasks } = ctx;

  /** A task the caller may read, or 404 (missing and not yours look the same). */
  async function readable(p: Principal, id: string): Promise<Task> {
    const task = await tasks.get(id);
    if (task === null || !canReadTask(p, task)) throw new TaskwireError('not_found', `task ${id} not found`);
    return task;
  }

  app.post('/tasks', { schema: { body: CreateTaskBody } }, async (req, reply) => {
    requireApiKey(req);
    checkJsonSize('meta', req.body.meta);
    const input: CreateTaskInput = { ...req.body, meta: req.body.meta as Record<string, JsonValue> | undefined };
    const { task, created } = await tasks.create(input, idempotencyKey(req));
    return reply.code(created ? 201 : 200).send(task);
  });

  app.patch('/tasks/:id', { schema: { params: TaskIdParams, body: UpdateTaskBody } }, async (req) => {
    requireApiKey(req);
    checkJsonSize('result', req.body.result);
    checkJsonSize('meta', req.body.meta);
    return tasks.update(req.params.id, req.body as UpdateTaskInput);
  });

  app.post('/tasks/:id/logs', { schema: { params: TaskIdParams, body: LogsBody } }, async (req) => {
    requireApiKey(req);
    req.body.lines.forEach((line, i) => {
      if (utf8Length(line) > LIMITS.logLineBytes) {
        throw new TaskwireError('bad_request', `lines[${i}] is over ${LIMITS.logLineBytes} bytes`);
      }
    });
    return tasks.appendLogs(req.params.id, req.body.lines);
  });

  app.post('/tasks/:id/approval', { schema: { params: TaskIdParams, body: ApprovalBody } }, async (req) => {
    requireApiKey(req);
    return tasks.requestApproval(req.params.id, req.body.prompt, req.body.options);
  });

  app.get('/tasks/:id', { schema: { params: TaskIdParams } }, async (req) => {
    return readable(requirePrincipal(req), req.params.id);
  });

  app.get('/tasks', { schema: { querystring: ListTasksQuery } }, async (req) => {
    const p = requirePrincipal(req);
    const { owner, status, cursor } = req.query;
    const limit = req.query.limit ?? 50;
    const privileged = p.admin || p.apiKey;
    if (!privileged && owner !== undefined && owner !== p.sub) {
      throw new TaskwireError('forbidden', `you may list only your own tasks (owner=${p.sub})`);
    }
    const effectiveOwner = privileged ? owner : p.sub;
    return tasks.list({
      ...(effectiveOwner !== undefined ? { owner: effectiveOwner } : {}),
      ...(status !== undefined ? { status } : {}),
      ...(cursor !== undefined ? { cursor } : {}),
      limit,
    });
  });

  app.post('/tasks/:id/decision', { schema: { params: TaskIdParams, body: DecisionBody } }, async (req) => {
    const p = requirePrincipal(req);
    await readable(p, req.params.id);
    return tasks.decide(req.params.id, req.body.decision, req.body.comment, p.sub);
  });

  app.post('/tasks/:id/cancel', { schema: { params: TaskIdParams } }, async (req) => {
    const p = requirePrincipal(req);
    await readable(p, req.params.id);
    return tasks.cancel(req.params.id);
  });
}

function idempotencyKey(req: FastifyRequest): string | undefined {
  const raw = req.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  const key = Array.isArray(raw) ? raw[0] : raw;
  if (
    typeof key !== 'string' ||
    key.length === 0 ||
    key.length > LIMITS.idempotencyKeyChars ||
    !/^[\x21-\x7e]+$/.test(key)
  ) {
    throw new TaskwireError(
      'bad_request',
      `Idempotency-Key must be 1-${LIMITS.idempotencyKeyChars} printable ASCII characters`,
    );
  }
  return key;
}

/** `result`, `meta`, `data`: at most 64 KiB of JSON. */
export function checkJsonSize(field: string, value: unknown): void {
  if (value !== undefined && jsonByteLength(value) > LIMITS.jsonBytes) {
    throw new TaskwireError('bad_request', `${field} is over ${LIMITS.jsonBytes / 1024} KiB of JSON`);
  }
}
