/**
 * A follower tab: its client's requests go to the leader over the channel, the
 * leader's state becomes its own, and the leader's frames reach its Subscriptions
 * as if they came from a socket of its own. When the leader changes, the requests
 * under way fail `disconnected` and the state goes `connecting`, so the client
 * suspends its subscriptions and resubscribes with `since` once the new leader is
 * connected: the same path as a reconnect.
 *
 * Liveness: after PING_AFTER_MS without a word from the leader the follower pings
 * it; after SILENT_AFTER_MS it reports the leader silent (the election steals the
 * lock). Messages are handled at once even in a throttled background tab, so a
 * slow timer there never makes a leader look dead; only a stuck one does. A tick
 * that comes more than STALLED_MS late means this tab itself was stalled (busy,
 * or frozen): the leader's messages are still queued behind it, so the silence
 * count starts again instead of counting as the leader's.
 */
import type { Task, WelcomeFrame } from '@taskwire/protocol';
import type { ConnectionHooks } from '../connection.js';
import { TaskwireClientError } from '../errors.js';
import type { TransportName } from '../fallback.js';
import type { ConnectionState } from '../machine.js';
import type { OutFrame, Settle } from '../requests.js';
import type { LeaderRef } from './election.js';
import type { Envelope, FollowerMessage, LeaderMessage, TabId, TabRequestFrame } from './protocol.js';

export const PING_AFTER_MS = 400;
export const SILENT_AFTER_MS = 1_000;
const TICK_MS = 100;
const STALLED_MS = 1_000;

export interface FollowerHost {
  post(msg: FollowerMessage): void;
  /** This tab's client. */
  hooks: ConnectionHooks;
  /** The leader's connection state becomes this tab's. */
  mirror(state: ConnectionState, code: number, reason: string, transport: TransportName, welcome?: WelcomeFrame): void;
  /** The leader was not heard for SILENT_AFTER_MS. */
  silent(): void;
  /** A token of this tab's user, for a leader that asks (undefined: none). */
  token(): Promise<string | undefined>;
}

interface Pending {
  settle: Settle<unknown>;
  timer: ReturnType<typeof setTimeout>;
}

export class Follower {
  /** Following (not leading, not gone): only then does it watch the leader. */
  #active = false;
  #leader: LeaderRef | null = null;
  #connected = false;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #lastHeard = Date.now();
  #lastPing = 0;
  #lastTick = Date.now();
  readonly #tick: ReturnType<typeof setInterval>;

  constructor(
    private readonly tab: TabId,
    private readonly host: FollowerHost,
    private readonly requestTimeoutMs: number,
  ) {
    this.#tick = setInterval(() => this.#check(), TICK_MS);
  }

  /** Follow this leader (null: none known yet). Requests to the previous one fail; the state is `connecting`. */
  follow(leader: LeaderRef | null): void {
    this.#active = true;
    this.#leader = leader;
    this.#connected = false;
    this.#lastHeard = Date.now();
    this.#failAll('the leader tab changed');
    this.host.mirror('connecting', 0, 'waiting for the leader tab', 'websocket');
    if (!leader) this.host.post({ t: 'hi' });
  }

  /** A message of the leader this tab follows. */
  onMessage(msg: Envelope<LeaderMessage>): void {
    this.#lastHeard = Date.now();
    switch (msg.t) {
      case 'state': {
        const connected = msg.state === 'connected' && !!msg.welcome;
        const was = this.#connected;
        this.#connected = connected;
        if (!connected) this.#failAll('connection lost');
        this.host.mirror(msg.state, msg.code, msg.reason, msg.transport, msg.welcome);
        if (connected && !was && msg.welcome) this.host.hooks.connected(msg.welcome);
        return;
      }
      case 'reply': {
        if (msg.to !== this.tab) return;
        const p = this.#pending.get(msg.id);
        if (!p) return;
        this.#pending.delete(msg.id);
        clearTimeout(p.timer);
        const o = msg.outcome;
        return p.settle(o.ok ? o : { ok: false, error: new TaskwireClientError(o.error.code, o.error.message) });
      }
      case 'frame':
        if (!msg.tabs || msg.tabs.includes(this.tab)) this.host.hooks.frame(msg.frame);
        return;
      case 'error':
        return this.host.hooks.error(new TaskwireClientError(msg.error.code, msg.error.message));
      case 'retry':
        return this.host.hooks.retry?.({ attempt: msg.attempt, delayMs: msg.delayMs, at: msg.at });
      case 'token?': {
        const to = msg.from;
        this.host.token().then(
          (token) => {
            if (token) this.host.post({ t: 'token', to, id: msg.id, token });
          },
          () => undefined,
        );
        return;
      }
      default:
        return; // hello, pong: heard, nothing else to do
    }
  }

  /** A request of this tab's client: to the leader, while it is connected. */
  send<T>(frame: OutFrame, settle: Settle<T>, snapshot: Task | null | undefined): void {
    const leader = this.#leader;
    if (
      !leader ||
      !this.#connected ||
      (frame.op !== 'subscribe' && frame.op !== 'unsubscribe' && frame.op !== 'publish' && frame.op !== 'stream')
    ) {
      return settle({ ok: false, error: new TaskwireClientError('disconnected', 'not connected') });
    }
    const id = this.#nextId++;
    const timer = setTimeout(() => {
      this.#pending.delete(id);
      settle({ ok: false, error: new TaskwireClientError('timeout', `no reply within ${this.requestTimeoutMs} ms`) });
    }, this.requestTimeoutMs);
    this.#pending.set(id, { settle: settle as Settle<unknown>, timer });
    const request: TabRequestFrame = frame;
    this.host.post({ t: 'req', to: leader.id, id, frame: request, ...(snapshot !== undefined ? { snapshot } : {}) });
  }

  /** This tab leads now: nothing to watch. */
  idle(): void {
    this.#active = false;
    this.#leader = null;
    this.#connected = false;
    this.#failAll('this tab leads');
  }

  /** Ask the leader to connect again (this tab's app called connect()). */
  connect(): void {
    if (this.#leader) this.host.post({ t: 'connect', to: this.#leader.id });
  }

  stop(): void {
    clearInterval(this.#tick);
    this.#failAll('left the group');
  }

  #failAll(reason: string): void {
    const all = Array.from(this.#pending.values());
    this.#pending.clear();
    for (const p of all) {
      clearTimeout(p.timer);
      p.settle({ ok: false, error: new TaskwireClientError('disconnected', reason) });
    }
  }

  #check(): void {
    const now = Date.now();
    const late = now - this.#lastTick - TICK_MS;
    this.#lastTick = now;
    if (!this.#active) return;
    if (late > STALLED_MS) {
      this.#lastHeard = now;
      return;
    }
    const quiet = now - this.#lastHeard;
    if (quiet >= SILENT_AFTER_MS) {
      this.#lastHeard = now; // one report per silence: the steal takes a moment
      return this.host.silent();
    }
    if (quiet >= PING_AFTER_MS && now - this.#lastPing >= PING_AFTER_MS) {
      this.#lastPing = now;
      this.host.post(this.#leader ? { t: 'ping', to: this.#leader.id } : { t: 'hi' });
    }
  }
}
