/**
 * What the hand-built baseline apps share (app-ws.ts, app-socketio.ts): the task
 * route a backend worker calls, as a user would write it with Fastify. `PATCH
 * /api/v1/tasks/:id` checks the API key, validates the body against a JSON schema,
 * updates the in-memory task and hands it to the app's broadcast; client tokens
 * are verified with jose `jwtVerify` (once per connection), and a client may
 * subscribe only to the tasks it owns.
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { jwtVerify } from 'jose';
import { BENCH_API_KEY, type TaskLike } from './common.js';

export type AppTask = Omit<TaskLike, 'meta'> & { meta: Record<string, unknown> };

interface UpdateBody {
  status?: 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';
  progress?: number;
  stage?: string;
  message?: string;
  meta?: Record<string, unknown>;
}

const updateSchema = {
  params: {
    type: 'object',
    required: ['id'],
    properties: { id: { type: 'string', minLength: 1, maxLength: 128 } },
  },
  body: {
    type: 'object',
    additionalProperties: false,
    properties: {
      status: { enum: ['queued', 'running', 'succeeded', 'failed', 'canceled'] },
      progress: { type: 'number', minimum: 0, maximum: 100 },
      stage: { type: 'string', maxLength: 100 },
      message: { type: 'string', maxLength: 1000 },
      meta: { type: 'object' },
    },
  },
} as const;

export class TaskStore {
  readonly tasks = new Map<string, AppTask>();

  /** A running task owned by the user with the same id (client `bench-<k>` owns task `bench-<k>`). */
  create(id: string): void {
    const iso = new Date().toISOString();
    this.tasks.set(id, {
      id,
      owner: id,
      title: 'Benchmark task',
      status: 'running',
      progress: 0,
      stage: 'work',
      message: null,
      result: null,
      error: null,
      approval: null,
      meta: {},
      stallTimeoutMs: 0,
      createdAt: iso,
      updatedAt: iso,
      startedAt: iso,
      finishedAt: null,
      version: 2,
    });
  }

  update(id: string, body: UpdateBody): AppTask | null {
    const task = this.tasks.get(id);
    if (!task) return null;
    if (body.status !== undefined) task.status = body.status;
    if (body.progress !== undefined) task.progress = body.progress;
    if (body.stage !== undefined) task.stage = body.stage;
    if (body.message !== undefined) task.message = body.message;
    if (body.meta !== undefined) task.meta = { ...task.meta, ...body.meta };
    task.updatedAt = new Date().toISOString();
    task.version += 1;
    return task;
  }
}

const KEY = Buffer.from(`Bearer ${BENCH_API_KEY}`);

function apiKeyOk(header: string | undefined): boolean {
  if (header === undefined) return false;
  const given = Buffer.from(header);
  return given.length === KEY.length && timingSafeEqual(given, KEY);
}

/** The Fastify app with the task route; `onUpdate` sends the new snapshot to the task's subscribers. */
export function taskApp(store: TaskStore, onUpdate: (task: AppTask) => void): FastifyInstance {
  const app = Fastify({ logger: false });
  app.patch<{ Params: { id: string }; Body: UpdateBody }>(
    '/api/v1/tasks/:id',
    { schema: updateSchema },
    async (req, reply) => {
      if (!apiKeyOk(req.headers.authorization))
        return reply.code(401).send({ error: { code: 'unauthorized', message: 'API key required' } });
      const task = store.update(req.params.id, req.body);
      if (!task) return reply.code(404).send({ error: { code: 'not_found', message: 'no such task' } });
      onUpdate(task);
      return task;
    },
  );
  return app;
}

/** The user a client token names, or null when it does not verify (HS256 only). */
export function tokenVerifier(secret: string): (token: unknown) => Promise<string | null> {
  const key = new TextEncoder().encode(secret);
  return async (token) => {
    if (typeof token !== 'string') return null;
    try {
      const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'] });
      return typeof payload.sub === 'string' && payload.sub.length > 0 ? payload.sub : null;
    } catch {
      return null;
    }
  };
}

/** May `user` subscribe to `channel`? Only to the tasks it owns. */
export function mayRead(store: TaskStore, user: string, channel: string): AppTask | null {
  if (!channel.startsWith('task:')) return null;
  const task = store.tasks.get(channel.slice(5));
  return task && task.owner === user ? task : null;
}
