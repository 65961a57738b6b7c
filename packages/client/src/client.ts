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
import {
  taskChannel,
  userChannel,
  type PublishResult,
  type ServerFrame,
  type StreamTextResult,
  type WelcomeFrame,
} from '@taskwire/protocol';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import {
  Connection,
  type ConnectionHooks,
  type ConnectionOptions,
  type RetryEvent,
  type StateEvent,
} from './connection.js';
import { Listeners } from './emitter.js';
import { watchEnvironment } from './environment.js';
import type { TaskwireClientError } from './errors.js';
import { ChannelHandle, TaskHandle, TasksHandle } from './handles.js';
import type { TransportName } from './fallback.js';
import type { Link, LinkFactory } from './link.js';
import type { ConnectionState } from './machine.js';
import type { OutFrame, Settle } from './requests.js';
import { Subscription } from './subscription.js';
import {
  webSocketTransport,
  type EventSourceConstructor,
  type FetchLike,
  type TransportFactory,
  type WebSocketConstructor,
} from './transport.js';

const ALL_TRANSPORTS: readonly TransportName[] = ['websocket', 'sse', 'longpoll'];

/**
 * What `@taskwire/client/fallback` plugs in (kept out of the core entry for its size
 * budget): the SSE and long-poll factories, and the health probe the policy asks for.
 */
export interface TransportExtras {
  factories: Partial<Record<TransportName, TransportFactory>>;
  /** Does plain HTTP reach the server? */
  probe: () => Promise<boolean>;
}

export interface ClientOptions {
  /** The WebSocket endpoint, e.g. `wss://example.com/api/v1/ws`. The token is never put in it. */
  url: string;
  /** A fixed token. Without `getToken`, a refused or expired token cannot be renewed. */
  token?: string;
  /** Returns a fresh token: called when none is cached, after a 4001, and before `exp`. */
  getToken?: () => Promise<string> | string;
  /** The WebSocket implementation. @default globalThis.WebSocket */
  WebSocket?: WebSocketConstructor;
  /** Replace the WebSocket transport (tests, other runtimes). Alone, it is the only transport. */
  transport?: TransportFactory;
  /**
   * Transports in order of preference: after `fallback.afterFailures` attempts in a
   * row fail before `welcome` while `GET /healthz` answers, the client moves to the
   * next one. Those not available are skipped: `sse` and `longpoll` come with
   * `createClient` from `@taskwire/client/fallback` (and `sse` needs an EventSource).
   * @default ['websocket', 'sse', 'longpoll'] (['websocket'] when `transport` is given)
   */
  transports?: readonly TransportName[];
  /** `@taskwire/client/fallback`: the EventSource for SSE (Node: the `eventsource` package). @default globalThis.EventSource */
  EventSource?: EventSourceConstructor;
  /** `@taskwire/client/fallback`: fetch for the HTTP transports and the health probe. @default globalThis.fetch */
  fetch?: FetchLike;
  /** Fallback tuning. @default { afterFailures: 3, retryFirstMs: 300000 } */
  fallback?: { afterFailures?: number; retryFirstMs?: number };
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
  /** A reconnect was scheduled (for "next attempt in N s" indicators). */
  retry: RetryEvent;
}

export class TaskwireClient {
  readonly #conn: Link;
  readonly #subs = new Map<string, Subscription>();
  readonly #feeds = new Set<TasksHandle>();
  readonly #events: { [K in keyof ClientEvents]: Listeners<ClientEvents[K]> } = {
    state: new Listeners(),
    error: new Listeners(),
    retry: new Listeners(),
  };
  readonly #feedHistory: number;
  #detachEnvironment: (() => void) | undefined;

  /**
   * `extras`: what `@taskwire/client/fallback` adds (SSE, long-poll, the health probe).
   * `link`: what `@taskwire/client/share` puts in place of the Connection.
   */
  constructor(opts: ClientOptions, extras?: TransportExtras, link?: LinkFactory) {
    const WebSocketImpl = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    const factories: Partial<Record<TransportName, TransportFactory | undefined>> = {
      ...extras?.factories,
      websocket: opts.transport ?? (WebSocketImpl && webSocketTransport(WebSocketImpl)),
    };
    const names = opts.transports ?? (opts.transport ? ['websocket' as const] : ALL_TRANSPORTS);
    const transports = names.flatMap((name) => {
      const factory = factories[name];
      return factory ? [{ name, factory }] : [];
    });
    if (transports.length === 0) {
      transports.push({
        name: names[0] ?? 'websocket',
        factory: () => {
          throw new Error('no transport available: pass the WebSocket (or EventSource, fetch) option');
        },
      });
    }
    this.#feedHistory = opts.feedHistory ?? 100;
    const connOpts: ConnectionOptions = {
      url: opts.url,
      token: opts.token,
      getToken: opts.getToken,
      transports,
      fallback: extras && {
        failures: opts.fallback?.afterFailures ?? 3,
        retryMs: opts.fallback?.retryFirstMs ?? 300_000,
        probe: extras.probe,
      },
      backoff: { ...DEFAULT_BACKOFF, ...opts.backoff },
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
    };
    const hooks: ConnectionHooks = {
      state: (e) => this.#onState(e),
      connected: (welcome) => this.#onConnected(welcome),
      frame: (frame) => this.#onFrame(frame),
      error: (err) => this.#events.error.emit(err),
      retry: (e) => this.#events.retry.emit(e),
    };
    this.#conn = link
      ? link(connOpts, hooks, (channel) => this.#subs.get(channel)?.snapshot)
      : new Connection(connOpts, hooks);
  }

  get state(): ConnectionState {
    return this.#conn.state;
  }

  /** The transport in use (`websocket`, `sse` or `longpoll`), or the one the next attempt opens. */
  get transport(): TransportName {
    return this.#conn.transport;
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
    return new TaskHandle(id, this.#acquire(taskChannel(id), 0), this.#drop, (task, stream) =>
      this.#conn.request<StreamTextResult>({ op: 'stream', task, stream }),
    );
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
