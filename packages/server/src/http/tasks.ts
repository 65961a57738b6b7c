/**
 * Task routes (docs/protocol.md §4). Backend writes (create, update, logs, approval) need
 * the API key; reads and the owner's actions (decision, cancel) take the owner's
 * token, an admin token or the API key. Another user's task answers 404
 * `not_found`, exactly like a missing one, so ids cannot be probed.
 */
import {
  ApprovalBody,
  CreateTaskBody,
  CreateTaskHeaders,
  DecisionBody,
  DeleteTaskResponse,
  LIMITS,
  ListTasksQuery,
  LogsBody,
  StreamAppendResponse,
  StreamBody,
  StreamParams,
  StreamTextResponse,
  TaskIdParams,
  TaskwireError,
  UpdateTaskBody,
  type Task,
} from '@taskwire/protocol';
import { canReadTask } from '../tasks/types.js';
import type { Principal } from '../auth/types.js';
import { requireApiKey, requirePrincipal } from './auth-hook.js';
import { Bodies, SECURITY, errorResponses, jsonResponse, taskResponse } from './openapi-schemas.js';
import type { HttpContext, TypedApp } from './types.js';

const TAGS = ['tasks'];

export function registerTaskRoutes(app: TypedApp, ctx: HttpContext): void {
  const { tasks } = ctx;

  /** A task the caller may read, or 404 (missing and not yours look the same). */
  async function readable(p: Principal, id: string): Promise<Task> {
    const task = await tasks.get(id);
    if (task === null || !canReadTask(p, task)) throw new TaskwireError('not_found', `task ${id} not found`);
    return task;
  }

  const createSchema = {
    summary: 'Create a task (backend)',
    description:
      'Creates the task and publishes `task.created` on `task:<id>` and `user:<owner>`. With `parentId` it joins a batch (a task of the same owner that has not ended, at most 4 levels deep), and the parent follows its children; `batch` makes it a parent at once; `tags` (at most 10) are listed with `GET /tasks?tag=`. An `Idempotency-Key` header makes retries safe: a repeat within 24 h answers 200 with the same snapshot and publishes nothing.',
    tags: TAGS,
    security: SECURITY.backend,
    headers: CreateTaskHeaders,
    body: CreateTaskBody,
    response: {
      201: taskResponse('Created: the new task snapshot.'),
      200: taskResponse('A repeat with the same Idempotency-Key: the same snapshot, no new event.'),
      ...errorResponses(400, 401, 403, 409, 413),
    },
  };
  app.post('/tasks', { schema: createSchema }, async (req, reply) => {
    requireApiKey(req);
    const { task, created } = await tasks.create(req.body, req.headers['idempotency-key']);
    return reply.code(created ? 201 : 200).send(task);
  });

  const updateSchema = {
    summary: 'Update a task (backend)',
    description:
      'Applies the change (status, progress, stage, message, result, error, meta); 409 on an illegal transition.',
    tags: TAGS,
    security: SECURITY.backend,
    params: TaskIdParams,
    body: UpdateTaskBody,
    response: { 200: taskResponse('The new snapshot.'), ...errorResponses(400, 401, 403, 404, 409, 413) },
  };
  app.patch('/tasks/:id', { schema: updateSchema }, (req, reply) => {
    requireApiKey(req);
    // On an engine with synchronous storage the answer is sent in this turn: no promise per update.
    const now = tasks.updateNow?.(req.params.id, req.body) ?? null;
    return now !== null ? reply.send(now) : tasks.update(req.params.id, req.body);
  });

  const logsSchema = {
    summary: 'Append log lines to a task (backend)',
    description: 'Publishes one `task.log` event on `task:<id>`; the snapshot and its version do not change.',
    tags: TAGS,
    security: SECURITY.backend,
    params: TaskIdParams,
    body: LogsBody,
    response: { 200: taskResponse('The snapshot (unchanged).'), ...errorResponses(400, 401, 403, 404, 409, 413) },
  };
  app.post('/tasks/:id/logs', { schema: logsSchema }, async (req) => {
    requireApiKey(req);
    return tasks.appendLogs(req.params.id, req.body.lines);
  });

  const streamSchema = {
    summary: 'Append a chunk to a task stream (backend)',
    description:
      'Appends `text` (1 character to 64 KiB) to the named stream (`output` by default; at most 8 streams per task, each at most --stream-max-bytes) and publishes one `task.stream` event on `task:<id>` with its 0-based `index`. The snapshot’s `streams` summary follows; its `version` does not change. 409 on a task that has ended.',
    tags: TAGS,
    security: SECURITY.backend,
    params: TaskIdParams,
    body: StreamBody,
    response: {
      200: jsonResponse('The stream and its chunk count after this one.', StreamAppendResponse),
      ...errorResponses(400, 401, 403, 404, 409, 413),
    },
  };
  app.post('/tasks/:id/stream', { schema: streamSchema }, async (req) => {
    requireApiKey(req);
    return tasks.appendStream(req.params.id, req.body.text, req.body.stream, req.body.index);
  });

  const readStreamSchema = {
    summary: 'Read a task stream: every chunk so far, joined',
    description:
      'Same permissions as GET /tasks/{id}. A stream never written answers `{"text": "", "chunks": 0}`. With the `task.stream` events after its `chunks`, a client has the whole text with nothing lost or doubled.',
    tags: TAGS,
    security: SECURITY.client,
    params: StreamParams,
    response: { 200: jsonResponse('The stream’s text.', StreamTextResponse), ...errorResponses(400, 401, 404) },
  };
  app.get('/tasks/:id/streams/:stream', { schema: readStreamSchema }, async (req) => {
    await readable(requirePrincipal(req), req.params.id);
    return tasks.readStream(req.params.id, req.params.stream);
  });

  const approvalSchema = {
    summary: 'Ask the task owner for approval (backend)',
    description: 'Status → `awaiting_approval`; the owner answers with POST /tasks/{id}/decision.',
    tags: TAGS,
    security: SECURITY.backend,
    params: TaskIdParams,
    body: ApprovalBody,
    response: { 200: taskResponse('The new snapshot.'), ...errorResponses(400, 401, 403, 404, 409, 413) },
  };
  app.post('/tasks/:id/approval', { schema: approvalSchema }, async (req) => {
    requireApiKey(req);
    return tasks.requestApproval(req.params.id, req.body.prompt, req.body.options);
  });

  const getSchema = {
    summary: 'Get a task snapshot (the polling fallback)',
    description: 'The owner, an admin token or the API key; another user\u2019s task answers 404 like a missing one.',
    tags: TAGS,
    security: SECURITY.client,
    params: TaskIdParams,
    response: { 200: taskResponse(), ...errorResponses(400, 401, 404) },
  };
  app.get('/tasks/:id', { schema: getSchema }, async (req) => {
    return readable(requirePrincipal(req), req.params.id);
  });

  const listSchema = {
    summary: 'List tasks, newest first',
    description:
      'A non-admin user sees only their own tasks (another `owner` → 403). `parent=<id>`: the children of a batch; `tag=<tag>`: the tasks with that tag. Page with `nextCursor`.',
    tags: TAGS,
    security: SECURITY.client,
    querystring: ListTasksQuery,
    response: { 200: jsonResponse('A page of tasks.', Bodies.taskList), ...errorResponses(400, 401, 403) },
  };
  app.get('/tasks', { schema: listSchema }, async (req) => {
    const p = requirePrincipal(req);
    const { owner, status, parent, tag, cursor } = req.query;
    const limit = req.query.limit ?? LIMITS.listDefault;
    const privileged = p.admin || p.apiKey;
    if (!privileged && owner !== undefined && owner !== p.sub) {
      throw new TaskwireError('forbidden', `you may list only your own tasks (owner=${p.sub})`);
    }
    const effectiveOwner = privileged ? owner : p.sub;
    return tasks.list({
      ...(effectiveOwner !== undefined ? { owner: effectiveOwner } : {}),
      ...(status !== undefined ? { status } : {}),
      ...(parent !== undefined ? { parent } : {}),
      ...(tag !== undefined ? { tag } : {}),
      ...(cursor !== undefined ? { cursor } : {}),
      limit,
    });
  });

  const decisionSchema = {
    summary: 'Answer a pending approval (owner)',
    description: 'approve → `running`, reject → `failed`; 409 when no approval is pending.',
    tags: TAGS,
    security: SECURITY.client,
    params: TaskIdParams,
    body: DecisionBody,
    response: { 200: taskResponse('The new snapshot.'), ...errorResponses(400, 401, 404, 409, 413) },
  };
  app.post('/tasks/:id/decision', { schema: decisionSchema }, async (req) => {
    const p = requirePrincipal(req);
    await readable(p, req.params.id);
    return tasks.decide(req.params.id, req.body.decision, req.body.comment, p.sub);
  });

  const deleteSchema = {
    summary: 'Delete a finished task and its tree (backend, admin)',
    description:
      'Deletes a task that has ended, with every descendant, their channel history, streams and idempotency keys; afterwards the task answers 404 everywhere. Subscribers of `task:<id>` get `unsubscribed` with `reason: "deleted"`, and `user:<owner>` gets `{"kind": "task.deleted", "taskId"}` for each task. 409 `conflict` when the task or a descendant has not ended, or the task is a child of a batch (a batch is deleted with its top-level task). The API key or an admin token.',
    tags: TAGS,
    security: SECURITY.admin,
    params: TaskIdParams,
    response: {
      200: jsonResponse('Deleted: the task, and how many tasks its tree held.', DeleteTaskResponse),
      ...errorResponses(400, 401, 403, 404, 409),
    },
  };
  app.delete('/tasks/:id', { schema: deleteSchema }, async (req) => {
    const p = requirePrincipal(req);
    if (!p.apiKey && !p.admin)
      throw new TaskwireError('forbidden', 'deleting a task needs the API key or an admin token');
    return tasks.delete(req.params.id);
  });

  const cancelSchema = {
    summary: 'Cancel a task (owner or backend)',
    description: 'Status → `cancelled`; 409 when the task already finished.',
    tags: TAGS,
    security: SECURITY.client,
    params: TaskIdParams,
    response: { 200: taskResponse('The new snapshot.'), ...errorResponses(400, 401, 404, 409) },
  };
  app.post('/tasks/:id/cancel', { schema: cancelSchema }, async (req) => {
    const p = requirePrincipal(req);
    await readable(p, req.params.id);
    return tasks.cancel(req.params.id);
  });
}
