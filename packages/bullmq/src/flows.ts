/**
 * BullMQ flows as taskwire batches. A FlowProducer flow is a parent job with children
 * jobs (in any queues); BullMQ holds the parent in `waiting-children` until every
 * child is done, then runs the parent job itself. So:
 *
 * - a job with children is a parent task with `batch: {progressFrom: "children",
 *   completeWhen: "self", expectedChildren: <its children>}`: its progress follows its
 *   children while they run, and it ends when its own job ends (never by its children:
 *   BullMQ runs the parent job after them, and that run decides);
 * - a child job's task is created with `parentId` = its parent job's task, which is
 *   created first if no bridge made it yet (from the parent job, with the same id and
 *   idempotency key the parent's own bridge uses: whichever comes first makes it).
 *
 * The parent's queue may be another queue than the bridged one: it is read with a Queue
 * of its own (same connection and prefix), closed with the bridge.
 */
import { Queue, type ConnectionOptions, type Job } from 'bullmq';
import type { CreateTaskInput } from '@taskwire/client/backend';
import { taskIdFor } from './ids.js';

/** The deepest batch nesting the server takes (docs/protocol.md §8), counting the child. */
export const MAX_DEPTH = 4;
/** Parent tasks known to exist, remembered so a flow's next children make no create of them. */
const KNOWN_MAX = 10_000;

/** Creates a job's task (idempotent) as a task of `queueName`; null when its owner declines it. */
export type CreateFor = (queueName: string, job: Job, taskId: string, depth: number) => Promise<string | null>;

export interface FlowOptions {
  queue: Queue;
  idPrefix: string;
  connection: ConnectionOptions | undefined;
}

export class Flows {
  readonly #o: FlowOptions;
  readonly #queues = new Map<string, Queue>();
  readonly #known = new Map<string, true>();

  constructor(opts: FlowOptions) {
    this.#o = opts;
  }

  /** The batch options of a job's task: set when the job has children, else undefined. */
  async batchOf(job: Job): Promise<CreateTaskInput['batch']> {
    const c = await job.getDependenciesCount();
    const n = (c.processed ?? 0) + (c.unprocessed ?? 0) + (c.failed ?? 0) + (c.ignored ?? 0);
    if (n === 0) return undefined;
    return { progressFrom: 'children', completeWhen: 'self', expectedChildren: Math.min(n, 10_000) };
  }

  /**
   * The task id of the job's parent job, its task created first when needed (`create`);
   * null when the job has no parent, the parent job is gone, its owner declines it, or
   * the flow is deeper than the server takes.
   */
  async parentOf(job: Job, depth: number, create: CreateFor): Promise<string | null> {
    const parent = job.parent;
    if (!parent?.id || depth + 1 >= MAX_DEPTH) return null;
    const queue = this.#queueOf(parent.queueKey);
    if (!queue) return null;
    const id = taskIdFor(queue.name, parent.id, this.#o.idPrefix);
    if (this.#known.has(id)) return id;
    const parentJob = (await queue.getJob(parent.id)) as Job | undefined;
    if (!parentJob) return null;
    if ((await create(queue.name, parentJob, id, depth + 1)) === null) return null;
    this.#known.set(id, true);
    if (this.#known.size > KNOWN_MAX) this.#known.delete(this.#known.keys().next().value as string);
    return id;
  }

  /** Close the queues opened to read parent jobs. */
  async close(): Promise<void> {
    const queues = [...this.#queues.values()];
    this.#queues.clear();
    await Promise.allSettled(queues.map((q) => q.close()));
  }

  /** The queue of a parent key `<prefix>:<name>`: the bridged one, or one opened for it (another prefix: none). */
  #queueOf(queueKey: string): Queue | null {
    const own = this.#o.queue;
    const prefix = own.opts.prefix ?? 'bull';
    if (!queueKey.startsWith(`${prefix}:`)) return null;
    const name = queueKey.slice(prefix.length + 1);
    if (name === own.name) return own;
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = new Queue(name, {
        connection: this.#o.connection ?? own.opts.connection,
        ...(own.opts.prefix === undefined ? {} : { prefix: own.opts.prefix }),
      });
      this.#queues.set(name, queue);
    }
    return queue;
  }
}
