/**
 * @taskwire/client/backend: the API-key client for workers and app servers, so no
 * worker hand-writes fetch calls.
 *
 * ```ts
 * const tw = createBackend({ url: 'http://localhost:8080', apiKey: process.env.TASKWIRE_API_KEY! });
 * const task = await tw.createTask({ owner: 'alice', title: 'Generate roadmap' });
 * await tw.progress(task.id, 40, { stage: 'outline' });
 * await tw.askApproval(task.id, 'Publish it?', ['approve', 'reject']);
 * const { decision } = await tw.waitForDecision(task.id, { timeoutMs: 3_600_000 });
 * await (decision === 'approve' ? tw.complete(task.id, { url }) : tw.fail(task.id, 'rejected'));
 * ```
 *
 * Retries: network errors and 5xx answers are retried with backoff; 4xx are thrown
 * at once as TaskwireApiError. `createTask` sends one Idempotency-Key per call,
 * reused by its retries, and `publish` does the same with an idempotency key, so a
 * retry never duplicates them. `update`/`progress` are naturally idempotent (the
 * same fields twice leave the same snapshot); `log` lines may repeat if an answer
 * is lost after the server stored them.
 */
import {
  isTerminalStatus,
  taskChannel,
  type CreateTaskBody,
  type Decision,
  type EventFrame,
  type JsonValue,
  type PublishResult,
  type StreamTextResult,
  type Task,
  type TaskError,
  type UpdateTaskBody,
} from '@taskwire/protocol';
import { backoffDelay } from '../backoff.js';
import { TaskwireApiError } from './errors.js';
import { call, sleep, type FetchLike, type HttpOptions } from './http.js';

export { TaskwireApiError, type ApiErrorCode } from './errors.js';
export { websocketUrl } from './urls.js';
export { WebhookVerificationError, verifyWebhook, type VerifyWebhookOptions } from './webhook.js';
export type { FetchLike } from './http.js';

export interface BackendOptions {
  /** The server's base URL (`http://localhost:8080`); `/api/v1` is added unless present. */
  url: string;
  apiKey: string;
  /** @default globalThis.fetch */
  fetch?: FetchLike;
  /** Retries after the first try, on network errors and 5xx. @default 4 */
  retries?: number;
  /** @default 200 */
  retryMinMs?: number;
  /** @default 5000 */
  retryMaxMs?: number;
}

/** The fields of a create (`POST /tasks`): the protocol's CreateTaskBody. */
export type CreateTaskInput = CreateTaskBody;

/** The fields of an update (`PATCH /tasks/:id`): the protocol's UpdateTaskBody. */
export type UpdateFields = UpdateTaskBody;

export interface DecisionResult {
  decision: Decision;
  comment: string | null;
  decidedBy: string | null;
  task: Task;
}

interface HistoryAnswer {
  epoch: string;
  offset: number;
  recovered: boolean;
  events: EventFrame[];
}

/** The longest long-poll we ask the server for, seconds (docs/protocol.md §4 allows up to 60). */
const LONG_POLL_S = 25;

export class TaskwireBackend {
  readonly #http: HttpOptions;
  /** The next chunk index of each stream this client wrote (task id, stream), for retry-safe appends. */
  readonly #nextChunk = new Map<string, number>();

  constructor(opts: BackendOptions) {
    const base = opts.url.replace(/\/+$/, '');
    this.#http = {
      baseUrl: base.endsWith('/api/v1') ? base : `${base}/api/v1`,
      apiKey: opts.apiKey,
      fetch: opts.fetch ?? ((url, init) => fetch(url, init)),
      retries: opts.retries ?? 4,
      retryMinMs: opts.retryMinMs ?? 200,
      retryMaxMs: opts.retryMaxMs ?? 5_000,
    };
  }

  /**
   * Create a task (201), safe to retry: one Idempotency-Key per call (a fresh one unless
   * `opts.idempotencyKey` is given), reused by its retries. A repeat of a key answers the
   * first task (200).
   */
  createTask(input: CreateTaskInput, opts: { idempotencyKey?: string } = {}): Promise<Task> {
    const key = opts.idempotencyKey ?? randomKey();
    return call<Task>(this.#http, 'POST', '/tasks', input, { headers: { 'idempotency-key': key } });
  }

  get(id: string): Promise<Task> {
    return call<Task>(this.#http, 'GET', `/tasks/${enc(id)}`);
  }

  update(id: string, fields: UpdateFields): Promise<Task> {
    return call<Task>(this.#http, 'PATCH', `/tasks/${enc(id)}`, fields);
  }

  /** Report progress (0-100, or null when unknown); a queued task becomes running. */
  progress(
    id: string,
    pct: number | null,
    extra: { stage?: string | null; message?: string | null } = {},
  ): Promise<Task> {
    return this.update(id, { progress: pct, ...extra });
  }

  log(id: string, ...lines: string[]): Promise<void> {
    return call<void>(this.#http, 'POST', `/tasks/${enc(id)}/logs`, { lines });
  }

  /**
   * Append `text` to one of the task's streams (`output` by default): a chunk of its
   * output, shown live to every subscriber (protocol 1.1). Each chunk carries its index,
   * so a retry after a lost answer never appends it twice; the first chunk of a stream
   * in this process reads the stream's count first. Resolves with the count after it.
   */
  async stream(id: string, text: string, name = 'output'): Promise<{ stream: string; chunks: number }> {
    const key = `${id}\n${name}`;
    let index = this.#nextChunk.get(key);
    if (index === undefined) index = (await this.readStream(id, name)).chunks;
    let answer: { stream: string; chunks: number };
    try {
      answer = await call<{ stream: string; chunks: number }>(this.#http, 'POST', `/tasks/${enc(id)}/stream`, {
        text,
        stream: name,
        index,
      });
    } catch (err) {
      // The chunk may have landed: the next one reads the count again rather than reuse this index.
      this.#nextChunk.delete(key);
      throw err;
    }
    this.#nextChunk.delete(key); // re-inserted last: the map keeps the most recent streams
    this.#nextChunk.set(key, answer.chunks);
    if (this.#nextChunk.size > 1000) this.#nextChunk.delete(this.#nextChunk.keys().next().value as string);
    return answer;
  }

  /** A stream's whole text so far. */
  readStream(id: string, name = 'output'): Promise<StreamTextResult> {
    return call<StreamTextResult>(this.#http, 'GET', `/tasks/${enc(id)}/streams/${enc(name)}`);
  }

  askApproval(id: string, prompt: string, options?: string[]): Promise<Task> {
    return call<Task>(this.#http, 'POST', `/tasks/${enc(id)}/approval`, { prompt, ...(options ? { options } : {}) });
  }

  complete(id: string, result?: JsonValue): Promise<Task> {
    return this.update(id, { status: 'succeeded', ...(result !== undefined ? { result } : {}) });
  }

  fail(id: string, error: TaskError | string): Promise<Task> {
    return this.update(id, { status: 'failed', error });
  }

  cancel(id: string): Promise<Task> {
    return call<Task>(this.#http, 'POST', `/tasks/${enc(id)}/cancel`);
  }

  /**
   * Delete a task that has ended, with its whole tree, history and streams (protocol
   * 1.1 retention). Rejects with `conflict` (409) while the task or a descendant has
   * not ended, or for a child of a batch (delete its top-level task), `not_found` for
   * an unknown task. Resolves with how many tasks the tree held.
   */
  deleteTask(id: string): Promise<{ taskId: string; deleted: number }> {
    return call<{ taskId: string; deleted: number }>(this.#http, 'DELETE', `/tasks/${enc(id)}`);
  }

  /** Publish to a channel; an idempotency key is generated when none is given, so retries are safe. */
  publish(channel: string, data: unknown, opts: { idempotencyKey?: string } = {}): Promise<PublishResult> {
    return call<PublishResult>(this.#http, 'POST', `/channels/${enc(channel)}/publish`, {
      data,
      idempotencyKey: opts.idempotencyKey ?? randomKey(),
    });
  }

  /**
   * Wait until the pending approval is decided. Between checks it long-polls the
   * task channel's history (`wait`), so it wakes on the next event; a server that
   * answers at once (no long-poll) is polled with backoff (250 ms → 5 s) instead.
   * Rejects with `conflict` if the task ends or has no approval, `timeout` after
   * `timeoutMs`, and the signal's reason when aborted.
   */
  async waitForDecision(id: string, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<DecisionResult> {
    const { signal } = opts;
    const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
    const channel = `/channels/${enc(taskChannel(id))}/history`;
    // The position first, then the task: an event in between is seen by the next poll.
    let position = await call<HistoryAnswer>(this.#http, 'GET', `${channel}?limit=0`, undefined, { signal });
    for (let idle = 1; ;) {
      const task = await call<Task>(this.#http, 'GET', `/tasks/${enc(id)}`, undefined, { signal });
      const approval = task.approval;
      if (approval?.decision) {
        return { decision: approval.decision, comment: approval.comment, decidedBy: approval.decidedBy, task };
      }
      if (!approval || isTerminalStatus(task.status)) {
        throw new TaskwireApiError('conflict', `task ${id} is ${task.status} with no decision pending`, 409);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new TaskwireApiError('timeout', `no decision on ${id} in time`, 0);
      const waitS = Math.max(1, Math.min(LONG_POLL_S, Math.floor(left / 1000)));
      const started = Date.now();
      const since = `${position.epoch}:${position.offset}`;
      const h = await call<HistoryAnswer>(
        this.#http,
        'GET',
        `${channel}?since=${since}&limit=100&wait=${waitS}`,
        undefined,
        {
          signal,
        },
      );
      const last = h.events.at(-1);
      position = last ? { ...h, offset: last.offset } : h.recovered ? position : h;
      if (h.events.length > 0 || Date.now() - started >= waitS * 500) {
        idle = 1;
        continue;
      }
      // The server answered an empty long-poll at once: it does not long-poll. Poll with backoff.
      await sleep(Math.min(backoffDelay(idle++, false, { minMs: 250, maxMs: 5_000, longMinMs: 250 }), left), signal);
    }
  }
}

export function createBackend(opts: BackendOptions): TaskwireBackend {
  return new TaskwireBackend(opts);
}

const enc = encodeURIComponent;

function randomKey(): string {
  return globalThis.crypto.randomUUID();
}
