/**
 * The one object that runs the machine's effects: it owns the transport, the
 * retry timer, the token and the pending requests. Every input goes through `#feed`,
 * the single transition point; effects that cause further inputs (a transport
 * constructor that throws, a synchronous getToken) are queued, so a transition
 * always completes before the next one starts.
 *
 * Beside it, two parts with their own state, whose inputs come back through `#feed`:
 * the fallback runner (./fallback-runner.ts: which transport each attempt opens; it
 * hears how each attempt ended, read off the machine's transitions, so the machine
 * itself knows nothing of transports) and the session (./session.ts: the welcome
 * timeout, liveness, the stable timer and the proactive token refresh).
 */
import type { ServerFrame, WelcomeFrame } from '@taskwire/protocol';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { TaskwireClientError } from './errors.js';
import type { TransportName } from './fallback.js';
import { FallbackRunner, type FallbackOptions, type TransportSlot } from './fallback-runner.js';
import {
  INITIAL,
  LocalCode,
  PUBLIC_STATE,
  SERVER_CODES_FROM,
  transition,
  type ConnectionState,
  type Effect,
  type Input,
  type MachineState,
} from './machine.js';
import { Requests, type OutFrame, type Settle } from './requests.js';
import { Session } from './session.js';
import type { Transport } from './transport.js';

export interface StateEvent {
  oldState: ConnectionState;
  newState: ConnectionState;
  /** The close code (or a LocalCode) that caused the change; 0 when none did. */
  code: number;
  reason: string;
  /** The transport in use (or to be used next). */
  transport: TransportName;
}

export interface ConnectionHooks {
  state(event: StateEvent): void;
  /** After every `welcome`: subscriptions resubscribe here. */
  connected(welcome: WelcomeFrame): void;
  /** `event` and `unsubscribed` frames. */
  frame(frame: ServerFrame): void;
  error(error: TaskwireClientError): void;
  /** A reconnect was scheduled: the drawn delay, and when the attempt will start. */
  retry?(event: RetryEvent): void;
}

export interface RetryEvent {
  /** Consecutive failed attempts so far. */
  attempt: number;
  delayMs: number;
  /** When the next attempt starts, ms since the Unix epoch. */
  at: number;
}

export interface ConnectionOptions {
  url: string;
  token?: string | undefined;
  getToken?: (() => Promise<string> | string) | undefined;
  /** The transports in order of preference; the first is used until the fallback policy moves on. */
  transports: readonly TransportSlot[];
  fallback?: FallbackOptions | undefined;
  backoff: BackoffOptions;
  /** A request without a reply in this time fails, and the connection is replaced. */
  requestTimeoutMs: number;
  /** No `welcome` within this time after opening → retry. */
  connectTimeoutMs: number;
  random?: () => number;
}

type Timer = ReturnType<typeof setTimeout>;

export class Connection {
  #machine: MachineState = INITIAL;
  #queue: Input[] = [];
  #running = false;
  #transport: Transport | null = null;
  #token: string | undefined;
  /** Bumped whenever an async getToken result might become stale. */
  #tokenGeneration = 0;
  #retryTimer: Timer | undefined;
  #welcome: WelcomeFrame | undefined;
  readonly #requests: Requests;
  readonly #fallback: FallbackRunner;
  readonly #session: Session;

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly hooks: ConnectionHooks,
  ) {
    this.#token = opts.token;
    this.#requests = new Requests(opts.requestTimeoutMs, () =>
      this.#feed({ type: 'stale', code: LocalCode.Timeout, reason: 'request timed out' }),
    );
    this.#fallback = new FallbackRunner(opts.transports, opts.fallback, () => {
      // Replace the working fallback: the machine closes it, backs off once, and opens the new one.
      if (this.#machine.phase === 'connected' || this.#machine.phase === 'opening') {
        this.#feed({ type: 'stale', code: LocalCode.SwitchTransport, reason: `trying ${this.transport} again` });
      }
    });
    this.#session = new Session(
      {
        feed: (input) => this.#feed(input),
        send: (frame, settle) => this.send(frame, settle),
        request: (frame) => this.request(frame),
        live: () => (this.state === 'connected' ? this.#transport : null),
        token: () => this.#token,
        refreshed: (token) => {
          this.#token = token;
        },
        error: (error) => this.hooks.error(error),
      },
      opts.getToken,
    );
  }

  get state(): ConnectionState {
    return PUBLIC_STATE[this.#machine.phase];
  }

  /** The internal phase, for tests and debugging. */
  get phase(): MachineState['phase'] {
    return this.#machine.phase;
  }

  /** The transport in use, or the one the next attempt opens. */
  get transport(): TransportName {
    return this.#fallback.slot.name;
  }

  /** The `welcome` of the current session (undefined unless connected). */
  get welcome(): WelcomeFrame | undefined {
    return this.state === 'connected' ? this.#welcome : undefined;
  }

  connect(): void {
    this.#fallback.resume();
    this.#feed({ type: 'connect' });
  }

  disconnect(): void {
    this.#fallback.pause();
    this.#feed({ type: 'disconnect' });
  }

  /** Browser environment signals (see environment.ts). */
  notify(type: 'online' | 'offline' | 'visible'): void {
    this.#feed({ type });
    if (type === 'online') this.#fallback.online();
  }

  /** Send a request; its reply (or `disconnected`, `timeout`) goes to `settle`, synchronously. */
  send<T>(frame: OutFrame, settle: Settle<T>): void {
    if (this.state !== 'connected' || !this.#transport) {
      return settle({ ok: false, error: new TaskwireClientError('disconnected', 'not connected') });
    }
    const id = this.#requests.start(settle);
    this.#transport.send({ ...frame, id });
  }

  /** `send` as a promise. */
  request<T>(frame: OutFrame): Promise<T> {
    return new Promise<T>((resolve, reject) =>
      this.send<T>(frame, (o) => (o.ok ? resolve(o.result) : reject(o.error))),
    );
  }

  #feed(input: Input): void {
    this.#queue.push(input);
    if (this.#running) return;
    this.#running = true;
    try {
      for (let next = this.#queue.shift(); next; next = this.#queue.shift()) {
        const before = this.#machine.phase;
        const { state, effects } = transition(this.#machine, next);
        this.#machine = state;
        for (const effect of effects) this.#run(effect);
        // Tell the fallback runner how an attempt ended: welcomed, or failed before `welcome`
        // for a reason below the server's codes (upgrade refused, stream blocked, no welcome
        // in time; codes 4000-4999 come from the server itself, so the transport works).
        if (before === 'opening' && state.phase === 'connected') this.#fallback.welcomed();
        else if (before === 'opening' && state.phase === 'waiting' && 'code' in next && next.code < SERVER_CODES_FROM) {
          this.#fallback.failed();
        }
      }
    } finally {
      this.#running = false;
    }
  }

  #run(effect: Effect): void {
    switch (effect.type) {
      case 'state':
        this.hooks.state({
          oldState: effect.oldState,
          newState: effect.newState,
          code: effect.code,
          reason: effect.reason,
          transport: this.transport,
        });
        return;
      case 'open-socket':
        return this.#open();
      case 'send-auth':
        if (this.#token !== undefined) this.#transport?.send({ op: 'auth', token: this.#token });
        return;
      case 'close-socket':
        this.#transport?.close(effect.code, effect.reason);
        this.#transport = null;
        return;
      case 'schedule-retry': {
        const delay = backoffDelay(effect.attempt, effect.long, this.opts.backoff, this.opts.random);
        clearTimeout(this.#retryTimer);
        this.#retryTimer = setTimeout(() => this.#feed({ type: 'timer' }), delay);
        this.hooks.retry?.({ attempt: effect.attempt, delayMs: delay, at: Date.now() + delay });
        return;
      }
      case 'cancel-retry':
        clearTimeout(this.#retryTimer);
        return;
      case 'renew-token':
        this.#token = undefined;
        return this.#fetchToken(() => undefined);
      case 'start-session':
        return this.#session.start(effect.heartbeatMs, this.#welcome);
      case 'resubscribe':
        if (this.#welcome) this.hooks.connected(this.#welcome);
        return;
      case 'stop':
        return this.#stop();
    }
  }

  /** Get a token (cached, else getToken()) then open a transport. */
  #open(): void {
    if (this.#token !== undefined) return this.#openTransport();
    this.#fetchToken(() => {
      if (this.#machine.phase === 'opening') this.#openTransport();
    });
  }

  /** Calls getToken() and feeds the outcome; `then` runs after a success. */
  #fetchToken(then: () => void): void {
    const generation = ++this.#tokenGeneration;
    const getToken = this.opts.getToken;
    const fail = (cause: unknown): void => {
      if (generation !== this.#tokenGeneration) return;
      this.hooks.error(new TaskwireClientError('token', 'getToken() failed', { cause }));
      this.#feed({ type: 'token', ok: false });
    };
    if (!getToken) return fail(new Error('no getToken option: a refused token cannot be renewed'));
    Promise.resolve()
      .then(getToken)
      .then((token) => {
        if (generation !== this.#tokenGeneration) return;
        if (typeof token !== 'string' || token === '') return fail(new Error('getToken() returned no token'));
        this.#token = token;
        this.#feed({ type: 'token', ok: true });
        then();
      }, fail);
  }

  #openTransport(): void {
    let transport: Transport;
    const slot = this.#fallback.opening();
    try {
      transport = slot.factory(this.opts.url, {
        onOpen: () => {
          if (this.#transport === transport) this.#feed({ type: 'open' });
        },
        onFrame: (frame) => {
          if (this.#transport === transport) this.#onFrame(frame);
        },
        onClose: (code, reason) => {
          if (this.#transport !== transport) return;
          this.#transport = null;
          this.#feed({ type: 'close', code, reason });
        },
      });
    } catch (err) {
      this.#feed({ type: 'error', reason: err instanceof Error ? err.message : String(err) });
      return;
    }
    this.#transport = transport;
    this.#session.awaitWelcome(this.opts.connectTimeoutMs);
  }

  #onFrame(frame: ServerFrame): void {
    this.#session.heard();
    switch (frame.type) {
      case 'welcome':
        this.#welcome = frame;
        return this.#feed({ type: 'welcome', heartbeatMs: frame.heartbeatMs });
      case 'reply':
        return this.#requests.settle(frame.id, 'error' in frame ? { error: frame.error } : { result: frame.result });
      case 'error':
        return this.hooks.error(new TaskwireClientError(frame.code, frame.message));
      default:
        return this.hooks.frame(frame);
    }
  }

  #stop(): void {
    this.#transport?.close(LocalCode.Disconnect, 'client stopped');
    this.#transport = null;
    this.#session.stop();
    clearTimeout(this.#retryTimer);
    this.#tokenGeneration++;
    this.#requests.failAll('connection lost');
  }

  /** Timers and requests still alive (leak checks in tests). */
  get pending(): { timers: number; requests: number } {
    return { timers: this.#session.timers, requests: this.#requests.size };
  }
}
