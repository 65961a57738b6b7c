/**
 * What `client.task()`, `client.channel()` and `client.tasks()` return. Each handle
 * holds one reference on a shared Subscription; `release()` drops it (idempotent)
 * and removes the handle's listeners. Every handle is a subscribable store:
 * `subscribe(listener) → unsubscribe` and `getSnapshot()` with a stable identity
 * until the value changes, as React's useSyncExternalStore requires.
 */
import {
  isTaskEventData,
  isTerminalStatus,
  type EventFrame,
  type Position,
  type PublishResult,
  type Task,
} from '@taskwire/protocol';
import { Listeners } from './emitter.js';
import { TaskwireClientError } from './errors.js';
import type { ChannelNotice, Subscription, SubscriptionState } from './subscription.js';
import { StreamHandle, type StreamReader } from './stream.js';
import { isNewer } from './tasks.js';

abstract class Handle<N> {
  protected readonly listeners: Listeners<N> = new Listeners();
  #off: (() => void) | undefined;
  #released = false;

  constructor(
    protected sub: Subscription | undefined,
    private readonly drop: (sub: Subscription) => void,
  ) {
    if (sub) this.bind(sub);
  }

  /** Attach to the shared subscription (for the feed, once the user is known). */
  bind(sub: Subscription): void {
    this.sub = sub;
    this.#off = sub.listeners.add((n) => this.onNotice(n));
  }

  protected abstract onNotice(notice: ChannelNotice): void;

  get state(): SubscriptionState {
    return this.#released ? 'unsubscribed' : (this.sub?.state ?? 'subscribing');
  }
  get error(): TaskwireClientError | null {
    return this.sub?.error ?? null;
  }
  get released(): boolean {
    return this.#released;
  }

  subscribe(listener: (notice: N) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Stop receiving; the server subscription ends when its last handle is released. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#off?.();
    if (this.sub) this.drop(this.sub);
    this.onRelease();
  }

  protected onRelease(): void {}
}

/** `client.task(id)`: one task's snapshot, its change events, and `done()`. */
export class TaskHandle extends Handle<ChannelNotice> {
  readonly id: string;
  #done: Promise<Task> | undefined;
  #settleDone: ((n: ChannelNotice | 'released') => void) | undefined;

  constructor(
    id: string,
    sub: Subscription,
    drop: (sub: Subscription) => void,
    private readonly reader?: StreamReader,
  ) {
    super(sub, drop);
    this.id = id;
  }

  /**
   * One of the task's streams (protocol 1.1), whole and live: `getSnapshot()` is
   * `{text, chunks, done}`. Release it when done (the task handle is released apart).
   */
  stream(name = 'output'): StreamHandle {
    const read: StreamReader =
      this.reader ?? (() => Promise.reject(new TaskwireClientError('disconnected', 'no connection to read from')));
    return new StreamHandle(this, name, read);
  }

  /** The current snapshot: undefined while loading, null while the task does not exist yet. */
  get snapshot(): Task | null | undefined {
    return this.sub?.snapshot;
  }

  readonly getSnapshot = (): Task | null | undefined => this.snapshot;

  /** Resolves with the terminal snapshot; rejects on not_found/forbidden (or release). */
  done(): Promise<Task> {
    this.#done ??= new Promise<Task>((resolve, reject) => {
      this.#settleDone = (n) => {
        const task = this.snapshot;
        if (task && isTerminalStatus(task.status)) return resolve(task);
        if (n === 'released') return reject(new TaskwireClientError('released', 'the task handle was released'));
        if (n.type === 'state' && n.state === 'unsubscribed' && n.error) reject(n.error);
      };
      this.#settleDone({ type: 'state', state: this.state, error: this.error });
    });
    return this.#done;
  }

  protected onNotice(notice: ChannelNotice): void {
    this.#settleDone?.(notice);
    this.listeners.emit(notice);
  }

  protected override onRelease(): void {
    this.#settleDone?.('released');
  }
}

/** `client.channel(name)`: the channel's events, and publish. */
export class ChannelHandle extends Handle<ChannelNotice> {
  #last: EventFrame | undefined;

  constructor(
    readonly name: string,
    sub: Subscription,
    drop: (sub: Subscription) => void,
    private readonly publisher: (channel: string, data: unknown, idempotencyKey?: string) => Promise<PublishResult>,
  ) {
    super(sub, drop);
  }

  /** The last event received (undefined before the first). */
  readonly getSnapshot = (): EventFrame | undefined => this.#last;

  get position(): Position | null {
    return this.sub?.position ?? null;
  }

  publish(data: unknown, opts: { idempotencyKey?: string } = {}): Promise<PublishResult> {
    return this.publisher(this.name, data, opts.idempotencyKey);
  }

  protected onNotice(notice: ChannelNotice): void {
    if (notice.type === 'event') this.#last = notice.event;
    this.listeners.emit(notice);
  }
}

export type TasksNotice =
  | { type: 'task'; task: Task }
  /** The task was deleted (protocol 1.1 retention): it is no longer in the feed. */
  | { type: 'deleted'; taskId: string }
  | { type: 'log'; taskId: string; lines: string[] }
  | Exclude<ChannelNotice, { type: 'event' } | { type: 'snapshot' }>;

/**
 * One user feed's tasks by id, with the version rule, shared by every TasksHandle
 * on the same subscription: a handle opened after the feed loaded sees it all.
 */
class FeedState {
  readonly tasks = new Map<string, Task>();
  list: readonly Task[] = [];
  readonly listeners: Listeners<TasksNotice> = new Listeners();

  constructor(sub: Subscription) {
    sub.listeners.add((n) => this.onNotice(n));
  }

  merge(tasks: readonly Task[]): void {
    for (const task of tasks) this.put(task);
  }

  private onNotice(notice: ChannelNotice): void {
    if (notice.type === 'snapshot') return;
    if (notice.type !== 'event') return this.listeners.emit(notice);
    const data = notice.event.data;
    if (!isTaskEventData(data)) return;
    if (data.kind === 'task.log') this.listeners.emit({ type: 'log', taskId: data.taskId, lines: data.lines });
    else if (data.kind === 'task.created' || data.kind === 'task.updated') this.put(data.task);
    else if (data.kind === 'task.deleted') this.drop(data.taskId);
  }

  private drop(id: string): void {
    if (!this.tasks.delete(id)) return;
    this.list = this.list.filter((t) => t.id !== id);
    this.listeners.emit({ type: 'deleted', taskId: id });
  }

  private put(task: Task): void {
    if (!isNewer(task, this.tasks.get(task.id))) return;
    this.tasks.set(task.id, task);
    this.list = Array.from(this.tasks.values()).sort((a, b) =>
      a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : 0,
    );
    this.listeners.emit({ type: 'task', task });
  }
}

/** The feed of a subscription lives as long as the subscription object. */
const feeds = new WeakMap<Subscription, FeedState>();
function feedOf(sub: Subscription): FeedState {
  let feed = feeds.get(sub);
  if (!feed) feeds.set(sub, (feed = new FeedState(sub)));
  return feed;
}

const NO_TASKS: readonly Task[] = [];

/**
 * `client.tasks()`: the user's feed (`user:<sub>`), a map of their tasks by id with
 * the version rule. `getSnapshot()` is a list, newest update first, whose identity
 * changes only when a task does. Every handle on the feed shares one map.
 */
export class TasksHandle extends Handle<TasksNotice> {
  #feed: FeedState | undefined;
  #offFeed: (() => void) | undefined;
  /** Tasks merged before the user was known (the feed binds at the first welcome). */
  #pending: Task[] = [];

  constructor(drop: (sub: Subscription) => void) {
    super(undefined, drop);
  }

  override bind(sub: Subscription): void {
    super.bind(sub);
    const feed = feedOf(sub);
    this.#feed = feed;
    this.#offFeed = feed.listeners.add((n) => this.listeners.emit(n));
    if (this.#pending.length > 0) feed.merge(this.#pending.splice(0));
  }

  get(id: string): Task | undefined {
    return this.#feed?.tasks.get(id) ?? this.#pending.find((t) => t.id === id);
  }

  readonly getSnapshot = (): readonly Task[] => this.#feed?.list ?? NO_TASKS;

  /** Add tasks loaded elsewhere (an HTTP list), under the same version rule. */
  merge(tasks: readonly Task[]): void {
    if (this.#feed) this.#feed.merge(tasks);
    else this.#pending.push(...tasks);
  }

  /** The shared FeedState turns the channel's notices into task notices. */
  protected onNotice(): void {}

  protected override onRelease(): void {
    this.#offFeed?.();
  }
}
