/**
 * createClient(): one connection, many ref-counted subscriptions, task handles.
 *
 * ```ts
 * const client = createClient({ url: 'wss://example.com/api/v1/ws', getToken: fetchToken });
 * client.connect();
 * const task = client.task('build-42');
 * task.subscribe(() => render(task.snapshot));
 * const final = await task.done();
 * task.release();
 * ```
 */
import { taskChannel, userChannel, type PublishResult, type ServerFrame, type WelcomeFrame } from '@taskwire/protocol';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { Connection, type OutFrame, type StateEvent } from './connection.js';
import { Listeners } from './emitter.js';
import { watchEnvironment } from './environment.js';
import type { TaskwireClientError } from './errors.js';
import { ChannelHandle, TaskHandle, TasksHandle } from './handles.js';
import type { ConnectionState } from './machine.js';
import type { Settle } from './requests.js';
import { Subscription } from './subscription.js';
import { webSocketTransport, type TransportFactory, type WebSocketConstructor } from './transport.js';

export interface ClientOptions {
  /** The WebSocket endpoint, e.g. `wss://example.com/api/v1/ws`. The token is never put in it. */
  url: string;
  /** A fixed token. Without `getToken`, a refused or expired token cannot be renewed. */
  token?: string;
  /** Returns a fresh token: called when none is cached, after a 4001, and before `exp`. */
  getToken?: () => Promise<string> | string;
  /** The WebSocket implementation. @default globalThis.WebSocket */
  WebSocket?: WebSocketConstructor;
  /** Replace the transport entirely (tests, SSE/long-poll later). Takes precedence over `WebSocket`. */
  transport?: TransportFactory;
  /** Reconnect delays. @default { minMs: 500, maxMs: 30000, longMinMs: 5000 } */
  backoff?: Partial<BackoffOptions>;
  /** A request without a reply in this time replaces the connection. @default 10000 */
  requestTimeoutMs?: number;
  /** No `welcome` this long after opening → retry. @default 10000 */
  connectTimeoutMs?: number;
  /** Events the user feed loads on its first subscribe. @default 100 */
  feedHistory?: number;
}

export interface ClientEvents {
  state: StateEvent;
  error: TaskwireClientError;
}

export class TaskwireClient {
  readonly #conn: Connection;
  readonly #subs = new Map<string, Subscription>();
  readonly #feeds = new Set<TasksHandle>();
  readonly #events: { [K in keyof ClientEvents]: Listeners<ClientEvents[K]> } = {
    state: new Listeners(),
    error: new Listeners(),
  };
  readonly #feedHistory: number;
  #detachEnvironment: (() => void) | undefined;

  constructor(opts: ClientOptions) {
    const WebSocketImpl = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    const transport =
      opts.transport ??
      (WebSocketImpl
        ? webSocketTransport(WebSocketImpl)
        : () => {
            throw new Error('no WebSocket implementation: pass the WebSocket option');
          });
    this.#feedHistory = opts.feedHistory ?? 100;
    this.#conn = new Connection(
      {
        url: opts.url,
        token: opts.token,
        getToken: opts.getToken,
        transport,
        backoff: { ...DEFAULT_BACKOFF, ...opts.backoff },
        requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
        connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      },
      {
        state: (e) => this.#onState(e),
        connected: (welcome) => this.#onConnected(welcome),
        frame: (frame) => this.#onFrame(frame),
        error: (err) => this.#events.error.emit(err),
      },
    );
  }

  get state(): ConnectionState {
    return this.#conn.state;
  }

  /** The authenticated user (from `welcome`), once connected. */
  get user(): string | undefined {
    return this.#conn.welcome?.user;
  }

  readonly getSnapshot = (): ConnectionState => this.#conn.state;

  /** Notified on every state change (for useSyncExternalStore). */
  subscribe(listener: (event: StateEvent) => void): () => void {
    return this.#events.state.add(listener);
  }

  on<E extends keyof ClientEvents>(event: E, listener: (value: ClientEvents[E]) => void): () => void {
    const listeners: Listeners<ClientEvents[E]> = this.#events[event];
    return listeners.add(listener);
  }

  connect(): void {
    this.#detachEnvironment ??= watchEnvironment((signal) => this.#conn.notify(signal));
    this.#conn.connect();
  }

  disconnect(): void {
    this.#detachEnvironment?.();
    this.#detachEnvironment = undefined;
    this.#conn.disconnect();
  }

  /** A handle on one task (`task:<id>`). Release it when done. */
  task(id: string): TaskHandle {
    return new TaskHandle(id, this.#acquire(taskChannel(id), 0), this.#drop);
  }

  /** A handle on any channel's events (`room:lobby`, `task:…`, `user:…`). */
  channel(name: string): ChannelHandle {
    return new ChannelHandle(name, this.#acquire(name, 0), this.#drop, (channel, data, key) =>
      this.#conn.request<PublishResult>({
        op: 'publish',
        channel,
        data,
        ...(key !== undefined ? { idempotencyKey: key } : {}),
      }),
    );
  }

  /** The user's feed (`user:<sub>`): their tasks by id. Binds once the first `welcome` names the user. */
  tasks(): TasksHandle {
    const feed = new TasksHandle(this.#drop);
    const user = this.user;
    if (user) feed.bind(this.#acquire(userChannel(user), this.#feedHistory));
    else this.#feeds.add(feed);
    return feed;
  }

  #acquire(channel: string, history: number): Subscription {
    let sub = this.#subs.get(channel);
    if (!sub) {
      sub = new Subscription(channel, this.#host, history);
      this.#subs.set(channel, sub);
    }
    sub.retain();
    // A second handle on a channel already subscribing or subscribed shares the request.
    sub.start(true);
    return sub;
  }

  readonly #drop = (sub: Subscription): void => {
    if (sub.release() && this.#subs.get(sub.channel) === sub) this.#subs.delete(sub.channel);
  };

  readonly #host = {
    isConnected: (): boolean => this.#conn.state === 'connected',
    send: <T>(frame: OutFrame, settle: Settle<T>): void => this.#conn.send(frame, settle),
    error: (err: TaskwireClientError): void => this.#events.error.emit(err),
  };

  #onState(e: StateEvent): void {
    if (e.oldState === 'connected') for (const sub of this.#subs.values()) sub.suspend();
    this.#events.state.emit(e);
  }

  #onConnected(welcome: WelcomeFrame): void {
    for (const feed of Array.from(this.#feeds)) {
      this.#feeds.delete(feed);
      if (!feed.released) feed.bind(this.#acquire(userChannel(welcome.user), this.#feedHistory));
    }
    for (const sub of Array.from(this.#subs.values())) sub.start();
  }

  #onFrame(frame: ServerFrame): void {
    if (frame.type === 'event') this.#subs.get(frame.channel)?.onEvent(frame);
    else if (frame.type === 'unsubscribed') this.#subs.get(frame.channel)?.onUnsubscribed(frame);
  }
}

export function createClient(opts: ClientOptions): TaskwireClient {
  return new TaskwireClient(opts);
}
