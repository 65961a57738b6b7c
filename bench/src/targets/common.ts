/**
 * What every target shares: the in-process publisher loop (offered rate or max
 * rate, bounded in count and time), the event payloads and the frame every target
 * sends, so clients parse the same bytes whatever the server. Dependency-free (the
 * uWebSockets.js target runs it under Node 20).
 */

/** Publish timestamp: the same clock in every process of one machine, in ms with µs resolution. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** The data of a plain event: the publish time, a sequence number, padding. */
export interface RawData {
  t: number;
  i: number;
  p: string;
}

/** Where a publisher sends: a plain event to a channel, or a progress update of the task behind `task:<id>`. */
export interface EventSink {
  raw(channel: string, data: RawData): void | Promise<unknown>;
  task(channel: string, taskId: string, progress: number, t: number): void | Promise<unknown>;
}

export interface PublishArgs {
  /** Events go round-robin over these channels. */
  channels: string[];
  count: number;
  /** Events per second; 0: as fast as the server goes (`burst` events, then yield to I/O). */
  rate: number;
  burst: number;
  /** Give up after this long, published or not. */
  maxMs: number;
  shape: 'raw' | 'task';
  padBytes: number;
}

export interface PublishResult {
  published: number;
  ms: number;
  errors: number;
  firstError: string | null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const yieldIo = (): Promise<void> => new Promise((r) => setImmediate(r));

export async function runPublisher(a: PublishArgs, sink: EventSink): Promise<PublishResult> {
  const pad = 'x'.repeat(a.padBytes);
  const start = now();
  const deadline = start + a.maxMs;
  let i = 0;
  let errors = 0;
  let firstError: string | null = null;
  const onError = (err: unknown): void => {
    errors += 1;
    firstError ??= err instanceof Error ? err.message : String(err);
  };
  const n = a.channels.length;
  while (i < a.count && now() < deadline) {
    const due =
      a.rate > 0
        ? Math.min(a.count, Math.floor(((now() - start) * a.rate) / 1000) + 1)
        : Math.min(a.count, i + a.burst);
    const pending: Promise<unknown>[] = [];
    // Every event of a burst is offered now: its latency counts the server's work on the events before it
    // in the burst, whether the target sends synchronously (ws) or through promises (taskwire's task path).
    const t = now();
    for (; i < due; i++) {
      const channel = a.channels[i % n] as string;
      try {
        const r =
          a.shape === 'raw'
            ? sink.raw(channel, { t, i, p: pad })
            : sink.task(channel, channel.slice(5), 1 + Math.floor((i / n) % 99), t);
        if (r) pending.push(r.catch(onError));
      } catch (err) {
        onError(err);
      }
    }
    if (pending.length > 0) await Promise.all(pending);
    if (a.rate > 0) {
      // Never spin: a timer tick of at least 5 ms (wakeups cost CPU too); each tick publishes what is due by then.
      const wait = start + ((i + 1) * 1000) / a.rate - now();
      await sleep(Math.min(Math.max(wait, 5), 50));
    } else await yieldIo();
  }
  return { published: i, ms: now() - start, errors, firstError };
}

/** A task snapshot shaped like taskwire's (for the other targets' task-shaped events). */
export interface TaskLike {
  id: string;
  owner: string;
  title: string | null;
  status: string;
  progress: number | null;
  stage: string | null;
  message: string | null;
  result: null;
  error: null;
  approval: null;
  meta: { t: number };
  stallTimeoutMs: number;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  version: number;
}

/** Task-shaped events for the targets without a task model: a snapshot per task id, mutated per update. */
export class TaskShapes {
  private readonly tasks = new Map<string, TaskLike>();

  update(taskId: string, progress: number, t: number): { kind: 'task.updated'; task: TaskLike } {
    let task = this.tasks.get(taskId);
    const iso = new Date().toISOString();
    if (!task) {
      task = {
        id: taskId,
        owner: 'bench-0',
        title: 'Benchmark task',
        status: 'running',
        progress: 0,
        stage: 'work',
        message: null,
        result: null,
        error: null,
        approval: null,
        meta: { t },
        stallTimeoutMs: 60000,
        createdAt: iso,
        updatedAt: iso,
        startedAt: iso,
        finishedAt: null,
        version: 2,
      };
      this.tasks.set(taskId, task);
    }
    task.progress = progress;
    task.meta = { t };
    task.updatedAt = iso;
    task.version += 1;
    return { kind: 'task.updated', task };
  }
}

/** Per-channel offsets for the targets without an engine (epoch `bench`). */
export class Offsets {
  private readonly next = new Map<string, number>();

  current(channel: string): number {
    return this.next.get(channel) ?? 0;
  }

  take(channel: string): number {
    const n = (this.next.get(channel) ?? 0) + 1;
    this.next.set(channel, n);
    return n;
  }
}

/** The event frame as taskwire sends it. */
export function eventFrame(channel: string, offset: number, data: unknown): string {
  return JSON.stringify({ type: 'event', channel, epoch: 'bench', offset, time: Date.now(), data });
}

/** The API key of every target with an HTTP task route (taskwire, app-ws, app-socketio). */
export const BENCH_API_KEY = 'bench-api-key-bench-api-key';

/** The reply to a `publish` op of the plain targets: taskwire's shape. */
export function publishReply(id: number, offset: number): string {
  return `{"type":"reply","id":${id},"result":{"epoch":"bench","offset":${offset}}}`;
}

/** Options every target process gets (JSON in argv[2]). */
export interface TargetOptions {
  kind: 'taskwire' | 'ws' | 'socketio' | 'uws' | 'app-ws' | 'app-socketio';
  /** taskwire: memory, sqlite or redis. */
  engine?: 'memory' | 'sqlite' | 'redis';
  /** taskwire sqlite: the database file. */
  db?: string;
  /** taskwire redis and socketio with the Redis adapter. */
  redisUrl?: string;
  /** taskwire and the apps: the JWT secret the bench signs tokens with. */
  jwtSecret?: string;
  /**
   * taskwire: how task-shaped events are made: `task` (default) the real task path
   * (tasks.update: reduce, commit, events on task: and user:), `publish` a plain
   * engine.publish of the same snapshot (separates the task service from the Hub and transport).
   */
  taskPath?: 'task' | 'publish';
  /** uws: the native binary to load. */
  uwsBinary?: string;
}

export interface Target {
  port: number;
  sink: EventSink;
  /** taskwire and the apps: create these tasks (owner: the id), running, so task updates are legal. */
  prepare?(taskIds: string[]): Promise<void>;
  close(): Promise<void>;
}
