/**
 * bridgeQueue(): one queue's jobs as live taskwire tasks, from the queue's events.
 *
 * Events come from BullMQ's `QueueEvents`, which reads the queue's event stream in
 * Redis: it sees what every worker does, in any process, and can start reading at a
 * stream id, so a bridge that stops can go on where it stopped. (A `Worker`'s own
 * events fire only in that worker's process, and are gone once emitted.)
 *
 * Several bridge processes may run for one queue: one applies the events (it holds a
 * lock in Redis, see lease.ts) and the others stand by; when the holder dies its lock
 * runs out and another takes over from the checkpoint. Every change is idempotent
 * (writer.ts), so the few events a takeover or a restart applies again change nothing.
 */
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { QueueEvents, type ConnectionOptions, type Job, type Queue } from 'bullmq';
import { TaskwireApiError, type TaskwireBackend } from '@taskwire/client/backend';
import { Lease, streamIdBefore, type Acquired } from './lease.js';
import { BRIDGED_EVENTS, actionFor, type Action, type BridgedEvent } from './mapping.js';
import { Pipeline } from './pipeline.js';
import { TaskWriter } from './writer.js';

type MaybePromise<T> = T | Promise<T>;

export interface BridgeOptions {
  /** The taskwire API client: `createBackend({ url, apiKey })` from `@taskwire/client/backend`. */
  backend: TaskwireBackend;
  /** The user who sees the job's task; null or undefined leaves the job out. */
  owner: (job: Job) => MaybePromise<string | null | undefined>;
  /** The task's title. @default the job's name */
  title?: (job: Job) => MaybePromise<string | null | undefined>;
  /** Task ids are `<idPrefix>-<queue>-<jobId>`. @default 'bullmq' */
  idPrefix?: string;
  /** Sent with every create. @default the server's (60 s; 0 = never stalls) */
  stallTimeoutMs?: number;
  /** The connection for the bridge's `QueueEvents` (it needs one of its own). @default the queue's connection options */
  connection?: ConnectionOptions;
  /** How long the lock outlives a bridge that stopped renewing it (the takeover delay). @default 5000 */
  lockTtlMs?: number;
  /** Changes in flight at once (one job's are always one after another). @default 16 */
  concurrency?: number;
  /** A change that could not be applied, a Redis or QueueEvents error. @default console.warn */
  onError?: (err: unknown, where: { jobId?: string; event?: string }) => void;
  /** The bridge started or stopped applying the events. */
  onRole?: (role: 'leader' | 'standby') => void;
}

export type BridgeRole = 'starting' | 'leader' | 'standby' | 'closed';

export interface QueueBridge {
  /** Resolves once the bridge knows its role (it holds the lock and reads the events, or stands by). */
  readonly ready: Promise<void>;
  readonly role: BridgeRole;
  /** Stop: the events read so far are applied (for up to 10 s), the checkpoint stored, the lock freed. */
  close(): Promise<void>;
}

/** Tries of one change when the server is unreachable or failing (each with the backend's own retries). */
const APPLY_TRIES = 3;
const CLOSE_WAIT_MS = 10_000;

export function bridgeQueue(queue: Queue, options: BridgeOptions): QueueBridge {
  return new Bridge(queue, options);
}

class Bridge implements QueueBridge {
  readonly ready: Promise<void>;
  readonly #queue: Queue;
  readonly #o: BridgeOptions;
  readonly #lease: Lease;
  readonly #writer: TaskWriter;
  readonly #ttlMs: number;
  #role: BridgeRole = 'starting';
  #pipeline: Pipeline;
  #events: QueueEvents | null = null;
  #timer: NodeJS.Timeout | null = null;
  #step: Promise<void>;
  #closing: Promise<void> | null = null;
  #stopping = false;

  constructor(queue: Queue, options: BridgeOptions) {
    if (typeof options.owner !== 'function')
      throw new TypeError('bridgeQueue: owner must be a function (job) => user id');
    this.#queue = queue;
    this.#o = options;
    this.#ttlMs = Math.max(300, options.lockTtlMs ?? 5_000);
    this.#lease = new Lease(queue, randomUUID(), this.#ttlMs);
    this.#pipeline = new Pipeline(options.concurrency ?? 16);
    this.#writer = new TaskWriter({
      queue,
      backend: options.backend,
      owner: options.owner,
      title: options.title,
      idPrefix: options.idPrefix ?? 'bullmq',
      stallTimeoutMs: options.stallTimeoutMs,
      connection: options.connection,
      report: (err, jobId) => this.#report(err, { jobId }),
    });
    this.#step = this.#tick();
    this.ready = this.#step;
  }

  get role(): BridgeRole {
    return this.#role;
  }

  close(): Promise<void> {
    this.#stopping = true;
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    await this.#step;
    await this.#stopEvents();
    const idle = this.#pipeline.idle();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([idle, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
    if (this.#role === 'leader') {
      await this.#lease.release(this.#pipeline.checkpoint).catch((err: unknown) => this.#report(err, {}));
    }
    await this.#writer.close();
    this.#role = 'closed';
  }

  /** One step of the role machine: the leader renews (and stores the checkpoint), the others try to take over. */
  async #tick(): Promise<void> {
    try {
      if (this.#role === 'leader') {
        if (!(await this.#lease.renew(this.#pipeline.checkpoint))) await this.#standBy();
      } else {
        const got = await this.#lease.acquire();
        if (got && !this.#stopping) this.#lead(got);
        else if (got) await this.#lease.release(undefined);
        else if (this.#role !== 'standby') this.#setRole('standby');
      }
    } catch (err) {
      this.#report(err, {});
      if (this.#role === 'starting') this.#setRole('standby');
    }
    if (!this.#stopping) {
      const ms = this.#role === 'leader' ? Math.min(250, this.#ttlMs / 3) : this.#ttlMs / 3;
      this.#timer = setTimeout(() => {
        this.#step = this.#tick();
      }, ms);
    }
  }

  #lead(got: Acquired): void {
    if (got.oldest && got.from !== '0-0' && streamIdBefore(got.from, got.oldest)) {
      const lost = `the event stream was trimmed past the checkpoint (${got.from} < ${got.oldest}): events in between are lost`;
      this.#report(new Error(`${lost}; raise the queue's streams.events.maxLen`), {});
    }
    this.#pipeline = new Pipeline(this.#o.concurrency ?? 16);
    const events = new QueueEvents(this.#queue.name, {
      connection: this.#o.connection ?? this.#queue.opts.connection,
      ...(this.#queue.opts.prefix === undefined ? {} : { prefix: this.#queue.opts.prefix }),
      lastEventId: got.from,
      autorun: false,
    });
    const emitter = events as unknown as EventEmitter;
    for (const name of BRIDGED_EVENTS) {
      emitter.on(name, (args: Record<string, unknown>, id: string) => this.#onEvent(name, args, id));
    }
    emitter.on('error', (err: unknown) => this.#report(err, {}));
    this.#events = events;
    this.#setRole('leader');
    events.run().catch((err: unknown) => {
      if (this.#events === events) this.#report(err, {});
    });
  }

  async #standBy(): Promise<void> {
    await this.#stopEvents();
    this.#setRole('standby');
  }

  async #stopEvents(): Promise<void> {
    const events = this.#events;
    this.#events = null;
    await events?.close().catch((err: unknown) => this.#report(err, {}));
  }

  #onEvent(name: BridgedEvent, args: Record<string, unknown>, id: string): void {
    const jobId = args.jobId;
    if (typeof jobId !== 'string' || jobId === '') return;
    const action = actionFor(name, args);
    // Every event goes through the pipeline, applied or not, so the checkpoint passes it.
    this.#pipeline.push(id, jobId, action ? () => this.#apply(jobId, name, action) : () => Promise.resolve());
  }

  async #apply(jobId: string, event: BridgedEvent, action: Action): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#writer.apply(jobId, action);
        return;
      } catch (err) {
        if (attempt >= APPLY_TRIES || !transient(err) || this.#stopping) {
          this.#report(err, { jobId, event });
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 1000 * 4 ** (attempt - 1)));
      }
    }
  }

  #setRole(role: 'leader' | 'standby'): void {
    this.#role = role;
    this.#o.onRole?.(role);
  }

  #report(err: unknown, where: { jobId?: string; event?: string }): void {
    try {
      if (this.#o.onError) this.#o.onError(err, where);
      else console.warn(`@taskwire/bullmq (${this.#queue.name}${where.jobId ? ` job ${where.jobId}` : ''}):`, err);
    } catch {
      // A throwing onError must not stop the bridge.
    }
  }
}

/** Worth another try: no answer, the server failing or unavailable, or Redis (not a 4xx). */
function transient(err: unknown): boolean {
  if (!(err instanceof TaskwireApiError)) return true;
  return err.code === 'network' || err.code === 'unavailable' || err.code === 'internal';
}
