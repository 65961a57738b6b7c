/**
 * Applies an action to the job's task, idempotently, so that any bridge process, a
 * restart replaying events, or a lagging one, leaves the task as one bridge would:
 *
 * - create: with the job's deterministic id and an idempotency key derived from it;
 *   a repeat answers the same task, and an id that exists (its key expired) is the same task;
 * - a change to a task that is missing (the `added` event was never seen) creates it
 *   from the job first;
 * - a 409 is read back: a task already final was finished by another bridge, or by an
 *   earlier pass of this one (done); a queued task is started before it can succeed;
 * - a job of a flow: its task is a child of its parent job's task (flows.ts), created
 *   outside the batch when that is refused (the parent ended, another owner's, gone);
 *   a parent job's own progress becomes its task's stage and message only (the task's
 *   progress follows its children).
 */
import type { ConnectionOptions, Job, Queue } from 'bullmq';
import {
  TaskwireApiError,
  type ApiErrorCode,
  type CreateTaskInput,
  type TaskwireBackend,
  type UpdateFields,
} from '@taskwire/client/backend';
import { LIMITS, isTerminalStatus, type Task } from '@taskwire/protocol';
import { Flows } from './flows.js';
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
  /** For the queues of parent jobs in other queues. @default the queue's */
  connection?: ConnectionOptions;
  /** A notice that is not an error of a call (a job gone before its task could be created). */
  report: (err: Error, jobId: string) => void;
}

/** Jobs whose owner callback declined them, remembered so their events make no calls. */
const UNTRACKED_MAX = 10_000;

export class TaskWriter {
  readonly #o: WriterOptions;
  readonly #untracked = new Map<string, true>();
  readonly #flows: Flows;

  constructor(opts: WriterOptions) {
    this.#o = opts;
    this.#flows = new Flows({ queue: opts.queue, idPrefix: opts.idPrefix, connection: opts.connection });
  }

  /** Close what the writer opened (the queues of parent jobs in other queues). */
  close(): Promise<void> {
    return this.#flows.close();
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
    return (await this.#createFrom(this.#o.queue.name, job, id, 0)) !== null;
  }

  /**
   * Create the task of `job` (of queue `queueName`), its parent job's task first; its
   * owner, or null when the owner callback declines it. `depth` counts the parents below.
   */
  readonly #createFrom = async (queueName: string, job: Job, id: string, depth: number): Promise<string | null> => {
    const owner = await this.#o.owner(job);
    if (typeof owner !== 'string' || owner === '') {
      if (depth === 0 && job.id) this.#untrack(job.id);
      return null;
    }
    const title = this.#o.title ? await this.#o.title(job) : job.name;
    const batch = await this.#flows.batchOf(job);
    const input: CreateTaskInput = {
      id,
      owner,
      title: title == null ? null : clip(String(title), LIMITS.titleChars),
      meta: { bullmq: { queue: queueName, jobId: job.id ?? '', name: job.name } },
      ...(this.#o.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: this.#o.stallTimeoutMs }),
      ...(batch ? { batch } : {}),
    };
    const parentId = await this.#flows.parentOf(job, depth, this.#createFrom);
    try {
      await this.#o.backend.createTask(parentId ? { ...input, parentId } : input, {
        idempotencyKey: idempotencyKeyFor(id),
      });
    } catch (err) {
      if (isCode(err, 'conflict') && (!parentId || (await this.#exists(id)))) return owner; // the same task
      const refused = isCode(err, 'not_found') || isCode(err, 'bad_request') || isCode(err, 'conflict');
      if (!parentId || !refused) throw err;
      // The batch refused it (ended, another owner's, too deep): the task stands alone.
      this.#o.report(
        new Error(`task ${id} created outside its flow's batch ${parentId}: ${String(err)}`),
        job.id ?? '',
      );
      try {
        await this.#o.backend.createTask(input, { idempotencyKey: `${idempotencyKeyFor(id)}:alone` });
      } catch (again) {
        if (!isCode(again, 'conflict')) throw again;
      }
    }
    return owner;
  };

  async #exists(id: string): Promise<boolean> {
    try {
      await this.#o.backend.get(id);
      return true;
    } catch (err) {
      if (isCode(err, 'not_found')) return false;
      throw err;
    }
  }

  async #change(jobId: string, id: string, fields: UpdateFields): Promise<void> {
    try {
      await this.#o.backend.update(id, fields);
    } catch (err) {
      if (isCode(err, 'bad_request') && fields.progress !== undefined) {
        // A parent job's own progress: its task's progress follows its children; keep the rest.
        const task = await this.#o.backend.get(id);
        if (task.batch?.progressFrom !== 'children') throw err;
        const { progress: _dropped, ...rest } = fields;
        if (Object.keys(rest).length > 0) await this.#o.backend.update(id, rest);
        return;
      }
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
