/**
 * Applies an action to the job's task, idempotently, so that any bridge process, a
 * restart replaying events, or a lagging one, leaves the task as one bridge would:
 *
 * - create: with the job's deterministic id and an idempotency key derived from it;
 *   a repeat answers the same task, and an id that exists (its key expired) is the same task;
 * - a change to a task that is missing (the `added` event was never seen) creates it
 *   from the job first;
 * - a 409 is read back: a task already final was finished by another bridge, or by an
 *   earlier pass of this one (done); a queued task is started before it can succeed.
 */
import type { Job, Queue } from 'bullmq';
import { TaskwireApiError, type ApiErrorCode, type TaskwireBackend, type UpdateFields } from '@taskwire/client/backend';
import { LIMITS, isTerminalStatus, type Task } from '@taskwire/protocol';
import { idempotencyKeyFor, taskIdFor } from './ids.js';
import { clip, type Action } from './mapping.js';

type MaybePromise<T> = T | Promise<T>;

export interface WriterOptions {
  queue: Queue;
  backend: TaskwireBackend;
  owner: (job: Job) => MaybePromise<string | null | undefined>;
  title: ((job: Job) => MaybePromise<string | null | undefined>) | undefined;
  idPrefix: string;
  stallTimeoutMs: number | undefined;
  /** A notice that is not an error of a call (a job gone before its task could be created). */
  report: (err: Error, jobId: string) => void;
}

/** Jobs whose owner callback declined them, remembered so their events make no calls. */
const UNTRACKED_MAX = 10_000;

export class TaskWriter {
  readonly #o: WriterOptions;
  readonly #untracked = new Map<string, true>();

  constructor(opts: WriterOptions) {
    this.#o = opts;
  }

  taskId(jobId: string): string {
    return taskIdFor(this.#o.queue.name, jobId, this.#o.idPrefix);
  }

  async apply(jobId: string, action: Action): Promise<void> {
    if (this.#untracked.has(jobId)) return;
    const id = this.taskId(jobId);
    switch (action.kind) {
      case 'create':
        await this.#create(jobId, id, true);
        return;
      case 'update':
        await this.#change(jobId, id, action.fields);
        return;
      case 'finish':
        await this.#finish(jobId, id, action.fields);
        return;
      case 'delayed':
        await this.#delayed(jobId, id, action.until);
        return;
    }
  }

  /** Create the job's task from the job; false when the owner declines it or the job is gone. */
  async #create(jobId: string, id: string, reportGone: boolean): Promise<boolean> {
    const job = (await this.#o.queue.getJob(jobId)) as Job | undefined;
    if (!job) {
      if (reportGone) this.#o.report(new Error(`job ${jobId} is gone from Redis: no task created for it`), jobId);
      return false;
    }
    const owner = await this.#o.owner(job);
    if (typeof owner !== 'string' || owner === '') {
      this.#untrack(jobId);
      return false;
    }
    const title = this.#o.title ? await this.#o.title(job) : job.name;
    const input = {
      id,
      owner,
      title: title == null ? null : clip(String(title), LIMITS.titleChars),
      meta: { bullmq: { queue: this.#o.queue.name, jobId, name: job.name } },
      ...(this.#o.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: this.#o.stallTimeoutMs }),
    };
    try {
      await this.#o.backend.createTask(input, { idempotencyKey: idempotencyKeyFor(id) });
    } catch (err) {
      if (!isCode(err, 'conflict')) throw err; // it exists (its key expired after 24 h): the same task
    }
    return true;
  }

  async #change(jobId: string, id: string, fields: UpdateFields): Promise<void> {
    try {
      await this.#o.backend.update(id, fields);
    } catch (err) {
      if (isCode(err, 'not_found')) {
        if (await this.#create(jobId, id, true)) await this.#o.backend.update(id, fields);
        return;
      }
      if (isCode(err, 'conflict') && isTerminalStatus((await this.#o.backend.get(id)).status)) return;
      throw err;
    }
  }

  async #finish(jobId: string, id: string, fields: UpdateFields): Promise<void> {
    try {
      await this.#update(id, fields);
      return;
    } catch (err) {
      if (isCode(err, 'not_found')) {
        if (!(await this.#create(jobId, id, fields.status !== 'cancelled'))) return;
      } else if (isCode(err, 'conflict')) {
        const task = await this.#o.backend.get(id);
        if (isTerminalStatus(task.status)) return; // finished already: by another bridge, or an earlier pass
        if (task.status !== 'queued') throw err;
      } else {
        throw err;
      }
    }
    // Created just now, or still queued (its `active` was missed): a queued task cannot succeed directly.
    if (fields.status === 'succeeded') await this.#o.backend.update(id, { status: 'running' });
    await this.#update(id, fields);
  }

  /** An update; a success whose result the server refuses (over 64 KiB) succeeds without it. */
  async #update(id: string, fields: UpdateFields): Promise<void> {
    try {
      await this.#o.backend.update(id, fields);
    } catch (err) {
      const refused = isCode(err, 'bad_request') || isCode(err, 'too_large');
      if (!(refused && fields.status === 'succeeded' && fields.result != null)) throw err;
      const note = clip(`result not sent: ${(err as Error).message}`, LIMITS.messageChars);
      await this.#o.backend.update(id, { ...fields, result: null, message: note });
    }
  }

  /** `delayed`: a new job waiting for its time stays queued; a running one is between tries. */
  async #delayed(jobId: string, id: string, until: number): Promise<void> {
    let task: Task;
    try {
      task = await this.#o.backend.get(id);
    } catch (err) {
      if (!isCode(err, 'not_found')) throw err;
      if (!(await this.#create(jobId, id, true))) return;
      task = await this.#o.backend.get(id);
    }
    const at = Number.isFinite(until) && until > 0 ? new Date(until).toISOString() : 'later';
    if (task.status === 'queued')
      await this.#o.backend.update(id, { status: 'queued', message: `delayed until ${at}` });
    else if (!isTerminalStatus(task.status)) await this.#o.backend.update(id, { message: `retrying at ${at}` });
  }

  #untrack(jobId: string): void {
    this.#untracked.set(jobId, true);
    if (this.#untracked.size > UNTRACKED_MAX) {
      const oldest = this.#untracked.keys().next();
      if (!oldest.done) this.#untracked.delete(oldest.value);
    }
  }
}

export function isCode(err: unknown, code: ApiErrorCode): boolean {
  return err instanceof TaskwireApiError && err.code === code;
}
