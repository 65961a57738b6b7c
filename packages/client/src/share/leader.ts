/**
 * The leader tab: it holds the group's one connection (the core's Connection,
 * unchanged) and serves every tab through the channel mux (./channels.ts), its
 * own tab included, which talks to it directly instead of over the channel.
 *
 * - Subscribe and unsubscribe from any tab go through the mux (one server
 *   subscription per channel, ref-counted across tabs); publish goes straight to
 *   the connection, its reply back to the tab that asked.
 * - The connection's state, errors and retries go to its own tab and, as
 *   messages, to the others; events to every tab.
 * - Tokens: its own `getToken()` first; when that is missing, fails, or returns a
 *   token of another user, it asks the other tabs (`token?`) and takes the first
 *   token of its user that is not expired.
 * - Tabs that leave say `bye`; tabs that die without a word lose their tab lock,
 *   and the leader drops their subscriptions on its next check (every 2 s).
 */
import type { EventFrame, UnsubscribedFrame } from '@taskwire/protocol';
import { Connection, type ConnectionHooks, type ConnectionOptions } from '../connection.js';
import { TaskwireClientError } from '../errors.js';
import { tokenClaims, tokenExpiry } from '../jwt.js';
import type { ConnectionState } from '../machine.js';
import type { OutFrame, Settle } from '../requests.js';
import { Channels } from './channels.js';
import type { MuxOutcome } from './entry.js';
import type { Envelope, FollowerMessage, LeaderMessage, TabId, WireOutcome } from './protocol.js';
import type { Task } from '@taskwire/protocol';

/** How often the leader looks for tabs that died without a word. */
const GC_MS = 2_000;
/** How long the leader waits for another tab's token. */
const TOKEN_WAIT_MS = 5_000;

export interface LeaderHost {
  /** To every other tab of the group. */
  post(msg: LeaderMessage): void;
  /** This tab's client. */
  hooks: ConnectionHooks;
  /** The tab ids whose tab lock is held or pending; undefined where the LockManager cannot tell. */
  alive(): Promise<Set<TabId> | undefined>;
}

/** Is this a usable token of `sub`: its user, and not expired by our clock? */
export function tokenOf(sub: string, token: unknown): token is string {
  if (typeof token !== 'string' || token === '' || tokenClaims(token).sub !== sub) return false;
  const exp = tokenExpiry(token);
  return exp === undefined || exp * 1000 > Date.now();
}

const toWire = (outcome: { ok: true; result: unknown } | { ok: false; error: TaskwireClientError }): WireOutcome =>
  outcome.ok ? outcome : { ok: false, error: { code: outcome.error.code, message: outcome.error.message } };

export class Leader {
  readonly #conn: Connection;
  readonly #channels: Channels;
  readonly #local = new Map<number, Settle<unknown>>();
  #nextLocal = 1;
  readonly #asks = new Map<number, (token: string) => void>();
  #nextAsk = 1;
  #gc: ReturnType<typeof setInterval> | undefined;
  #stopped = false;

  constructor(
    opts: ConnectionOptions,
    private readonly tab: TabId,
    private readonly sub: string,
    private readonly host: LeaderHost,
  ) {
    const own = opts.getToken;
    this.#channels = new Channels({
      send: (frame, settle) => this.#conn.send(frame, settle),
      reply: (to, id, outcome) => this.#reply(to, id, outcome),
      event: (event) => this.#event(event),
      unsubscribed: (tabs, frame) => this.#unsubscribed(tabs, frame),
    });
    this.#conn = new Connection(
      { ...opts, getToken: () => this.#token(own) },
      {
        state: (e) => {
          if (this.#stopped) return;
          if (e.oldState === 'connected') this.#channels.reset();
          host.hooks.state(e);
          host.post({
            t: 'state',
            state: e.newState,
            code: e.code,
            reason: e.reason,
            transport: e.transport,
            ...(this.#conn.welcome ? { welcome: this.#conn.welcome } : {}),
          });
        },
        connected: (welcome) => {
          if (!this.#stopped) host.hooks.connected(welcome);
        },
        frame: (frame) => this.#channels.frame(frame),
        error: (err) => {
          if (this.#stopped) return;
          host.hooks.error(err);
          host.post({ t: 'error', error: { code: err.code, message: err.message } });
        },
        retry: (e) => {
          if (this.#stopped) return;
          host.hooks.retry?.(e);
          host.post({ t: 'retry', ...e });
        },
      },
    );
  }

  get connection(): Connection {
    return this.#conn;
  }

  get state(): ConnectionState {
    return this.#conn.state;
  }

  /** Announce the leadership, connect, and start looking for dead tabs. */
  start(): void {
    this.host.post({ t: 'hello' });
    this.#conn.connect();
    this.#gc = setInterval(() => this.#collect(), GC_MS);
  }

  /** Stop serving: the connection closes, and nothing more is posted or told to this tab. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#gc);
    this.#conn.disconnect();
    this.#channels.reset();
    this.#asks.clear();
    for (const settle of this.#local.values()) {
      settle({ ok: false, error: new TaskwireClientError('disconnected', 'the leader stopped') });
    }
    this.#local.clear();
  }

  /** A request of this tab's own client. */
  send<T>(frame: OutFrame, settle: Settle<T>, snapshot: Task | null | undefined): void {
    const id = this.#nextLocal++;
    this.#request(this.tab, id, frame, settle as Settle<unknown>, snapshot);
  }

  /** A message from another tab. */
  onMessage(msg: Envelope<FollowerMessage>): void {
    switch (msg.t) {
      case 'hi':
        return this.#postState();
      case 'bye':
        return this.#channels.dropTab(msg.from);
      case 'connect':
        if (msg.to === this.tab) this.#conn.connect();
        return;
      case 'ping':
        if (msg.to === this.tab) this.host.post({ t: 'pong' });
        return;
      case 'token':
        if (msg.to === this.tab) this.#asks.get(msg.id)?.(msg.token);
        return;
      case 'req': {
        if (msg.to !== this.tab) return;
        const { from, id } = msg;
        const settle: Settle<unknown> = (outcome) =>
          this.host.post({ t: 'reply', to: from, id, outcome: toWire(outcome) });
        return this.#request(from, id, msg.frame, settle, msg.snapshot);
      }
    }
  }

  /** Subscribe and unsubscribe go through the mux, which answers by tab and id (#reply); the rest to the connection. */
  #request(tab: TabId, id: number, frame: OutFrame, settle: Settle<unknown>, snapshot: Task | null | undefined): void {
    if (frame.op === 'subscribe') {
      if (this.#conn.state !== 'connected') {
        return settle({ ok: false, error: new TaskwireClientError('disconnected', 'not connected') });
      }
      if (tab === this.tab) this.#local.set(id, settle);
      const { channel, since, history } = frame;
      this.#channels.want(channel, { tab, id, since, history: history ?? 0, snapshot });
      return;
    }
    if (frame.op === 'unsubscribe') {
      this.#channels.drop(frame.channel, tab);
      return settle({ ok: true, result: {} });
    }
    this.#conn.send(frame, settle);
  }

  #reply(to: TabId, id: number, outcome: MuxOutcome): void {
    if (to !== this.tab) return this.host.post({ t: 'reply', to, id, outcome });
    const settle = this.#local.get(id);
    this.#local.delete(id);
    settle?.(
      outcome.ok ? outcome : { ok: false, error: new TaskwireClientError(outcome.error.code, outcome.error.message) },
    );
  }

  #event(event: EventFrame): void {
    this.host.hooks.frame(event);
    this.host.post({ t: 'frame', frame: event });
  }

  #unsubscribed(tabs: TabId[], frame: UnsubscribedFrame): void {
    if (tabs.includes(this.tab)) this.host.hooks.frame(frame);
    const others = tabs.filter((t) => t !== this.tab);
    if (others.length > 0) this.host.post({ t: 'frame', frame, tabs: others });
  }

  #postState(): void {
    const welcome = this.#conn.welcome;
    this.host.post({
      t: 'state',
      state: this.#conn.state,
      code: 0,
      reason: '',
      transport: this.#conn.transport,
      ...(welcome ? { welcome } : {}),
    });
  }

  /** The token for the connection: this tab's own, else one from another tab of the same user. */
  async #token(own: (() => Promise<string> | string) | undefined): Promise<string> {
    let failure: unknown = new Error('no getToken option in the leader tab');
    if (own) {
      try {
        const token = await own();
        if (tokenOf(this.sub, token)) return token;
        failure = new Error('getToken() returned a token of another user, or an expired one');
      } catch (err) {
        failure = err;
      }
    }
    const id = this.#nextAsk++;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#asks.delete(id);
        reject(failure instanceof Error ? failure : new Error(String(failure)));
      }, TOKEN_WAIT_MS);
      this.#asks.set(id, (token) => {
        if (!tokenOf(this.sub, token)) return;
        clearTimeout(timer);
        this.#asks.delete(id);
        resolve(token);
      });
      this.host.post({ t: 'token?', id });
    });
  }

  #collect(): void {
    this.host.alive().then(
      (alive) => {
        if (!alive || this.#stopped) return;
        for (const tab of this.#channels.tabs()) if (tab !== this.tab && !alive.has(tab)) this.#channels.dropTab(tab);
      },
      () => undefined,
    );
  }
}
