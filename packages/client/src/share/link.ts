/**
 * SharedLink: what a client of `@taskwire/client/share` with `shareAcrossTabs`
 * talks to instead of its own Connection. It runs the tab's role machine
 * (./election.ts) through one transition point, `#feed`, and carries out its
 * effects: the BroadcastChannel, the Web Locks, and the role's part, a Connection
 * of its own (`solo`), the leader (./leader.ts) or a follower (./follower.ts).
 *
 * The client sees one connection state whatever the role: the link reports a
 * change only when the public state changes, and a change of leader is a
 * `connected` → `connecting` → `connected` round trip, after which the client
 * resubscribes with `since` as after any reconnect.
 */
import type { Task, WelcomeFrame } from '@taskwire/protocol';
import { Connection, type ConnectionHooks, type ConnectionOptions, type StateEvent } from '../connection.js';
import type { EnvironmentSignal } from '../environment.js';
import { TaskwireClientError } from '../errors.js';
import type { TransportName } from '../fallback.js';
import { tokenClaims } from '../jwt.js';
import type { Link } from '../link.js';
import { LocalCode, type ConnectionState } from '../machine.js';
import type { OutFrame, Settle } from '../requests.js';
import { elect, IDLE, type ElectionEffect, type ElectionInput, type RoleState } from './election.js';
import { Follower } from './follower.js';
import { Leader, tokenOf } from './leader.js';
import {
  groupName,
  parseMessage,
  tabLockName,
  tabsAlive,
  VERSION,
  type FollowerMessage,
  type LeaderMessage,
} from './protocol.js';
import { watchPage } from './page.js';

/** What sharing needs from the environment: where either is missing, the tab goes solo. */
export interface ShareEnvironment {
  locks: LockManager;
  BroadcastChannel: new (name: string) => BroadcastChannel;
}

/** The parts of one stay in the group: dropped together on leaving. */
interface Group {
  readonly name: string;
  readonly sub: string;
  readonly channel: BroadcastChannel;
  /** Releases the tab lock. */
  releaseTab: () => void;
  /** Aborts the queued leader-lock request. */
  abort: AbortController | undefined;
  /** Releases the held leader lock. */
  release: (() => void) | undefined;
  follower: Follower;
  leader: Leader | undefined;
}

const newId = (): string => Math.random().toString(36).slice(2, 10) + Date.now().toString(36);

export class SharedLink implements Link {
  /** Drawn on the first connect(): nothing random or clock-dependent happens while rendering (createClient in a render). */
  #tab = '';
  #role: RoleState = IDLE;
  #queue: ElectionInput[] = [];
  #running = false;
  /** Bumped on every resolve and every leave: async results of an older stay are dropped. */
  #stay = 0;
  #token: string | undefined;
  #solo: Connection | undefined;
  #group: Group | undefined;
  #state: ConnectionState = 'disconnected';
  #transport: TransportName = 'websocket';
  #welcome: WelcomeFrame | undefined;
  #unwatch: (() => void) | undefined;

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly hooks: ConnectionHooks,
    private readonly peek: (channel: string) => Task | null | undefined,
    private readonly env: ShareEnvironment | undefined,
  ) {}

  get state(): ConnectionState {
    return this.#state;
  }

  get transport(): TransportName {
    return this.#transport;
  }

  get welcome(): WelcomeFrame | undefined {
    if (this.#state !== 'connected') return undefined;
    return this.#solo?.welcome ?? this.#group?.leader?.connection.welcome ?? this.#welcome;
  }

  /** This tab's role, for tests and debugging. */
  get role(): RoleState['role'] {
    return this.#role.role;
  }

  connect(): void {
    this.#tab ||= newId();
    this.#unwatch ??= watchPage((signal) => this.#feed({ type: signal }));
    this.#solo?.connect();
    this.#group?.leader?.connection.connect();
    this.#group?.follower.connect();
    this.#feed({ type: 'connect' });
  }

  disconnect(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
    this.#feed({ type: 'disconnect' });
    this.#setState('disconnected', LocalCode.Disconnect, 'disconnect()');
  }

  notify(signal: EnvironmentSignal): void {
    (this.#solo ?? this.#group?.leader?.connection)?.notify(signal);
  }

  send<T>(frame: OutFrame, settle: Settle<T>): void {
    const snapshot = frame.op === 'subscribe' ? this.peek(frame.channel) : undefined;
    if (this.#solo) return this.#solo.send(frame, settle);
    const group = this.#group;
    if (group?.leader) return group.leader.send(frame, settle, snapshot);
    if (group && this.#role.role === 'follower') return group.follower.send(frame, settle, snapshot);
    settle({ ok: false, error: new TaskwireClientError('disconnected', 'not connected') });
  }

  request<T>(frame: OutFrame): Promise<T> {
    return new Promise<T>((resolve, reject) =>
      this.send<T>(frame, (o) => (o.ok ? resolve(o.result) : reject(o.error))),
    );
  }

  /** The one transition point; effects that cause inputs are queued behind the current one. */
  #feed(input: ElectionInput): void {
    this.#queue.push(input);
    if (this.#running) return;
    this.#running = true;
    try {
      for (let next = this.#queue.shift(); next; next = this.#queue.shift()) {
        const { state, effects } = elect(this.#role, next);
        this.#role = state;
        for (const effect of effects) this.#run(effect);
      }
    } finally {
      this.#running = false;
    }
  }

  #run(effect: ElectionEffect): void {
    switch (effect.type) {
      case 'resolve':
        return this.#resolve();
      case 'solo':
        return effect.start ? this.#startSolo() : this.#stopSolo();
      case 'join':
        return this.#join(effect.group);
      case 'leave':
        return this.#leave();
      case 'lead':
        return this.#lead(effect.term);
      case 'unlead':
        return this.#unlead();
      case 'queue':
        return this.#queueLock(false);
      case 'steal':
        return this.#queueLock(true);
      case 'follow':
        return this.#group?.follower.follow(effect.leader);
    }
  }

  /** Report a state only when it changes. */
  #setState(state: ConnectionState, code: number, reason: string, transport = this.#transport): void {
    this.#transport = transport;
    if (state === this.#state) return;
    const event: StateEvent = { oldState: this.#state, newState: state, code, reason, transport };
    this.#state = state;
    this.hooks.state(event);
  }

  /** The hooks a Connection of this tab (solo or leader) reports to, while it is the current one. */
  #hooksFor(current: () => boolean): ConnectionHooks {
    return {
      state: (e) => {
        if (current()) this.#setState(e.newState, e.code, e.reason, e.transport);
      },
      connected: (w) => {
        if (current()) this.hooks.connected(w);
      },
      frame: (f) => {
        if (current()) this.hooks.frame(f);
      },
      error: (err) => {
        if (current()) this.hooks.error(err);
      },
      retry: (e) => {
        if (current()) this.hooks.retry?.(e);
      },
    };
  }

  /** Read the token to learn the user: the group is the user on this server. */
  #resolve(): void {
    this.#setState('connecting', 0, 'connect()');
    const stay = ++this.#stay;
    const { token, getToken } = this.opts;
    Promise.resolve()
      .then(() => token ?? getToken?.())
      .then(
        (value) => {
          if (stay !== this.#stay) return;
          this.#token = typeof value === 'string' && value !== '' ? value : undefined;
          const sub = this.#token === undefined ? undefined : tokenClaims(this.#token).sub;
          const ok = this.env && typeof sub === 'string' && sub !== '';
          this.#feed({ type: 'resolved', group: ok ? groupName(this.opts.url, sub) : null });
        },
        () => {
          // The solo connection calls getToken() itself and reports the failure as the core does.
          if (stay === this.#stay) this.#feed({ type: 'resolved', group: null });
        },
      );
  }

  #startSolo(): void {
    const solo: Connection = new Connection(
      { ...this.opts, token: this.#token ?? this.opts.token },
      this.#hooksFor(() => this.#solo === solo),
    );
    this.#solo = solo;
    solo.connect();
  }

  #stopSolo(): void {
    const solo = this.#solo;
    this.#solo = undefined;
    solo?.disconnect();
  }

  #join(name: string): void {
    const env = this.env;
    const sub = this.#token === undefined ? undefined : tokenClaims(this.#token).sub;
    if (!env || typeof sub !== 'string') return;
    const channel = new env.BroadcastChannel(name);
    let releaseTab = (): void => undefined;
    env.locks
      .request(tabLockName(name, this.#tab), () => new Promise<void>((resolve) => (releaseTab = resolve)))
      .catch(() => undefined);
    const follower = new Follower(
      this.#tab,
      {
        post: (msg) => this.#post(msg),
        hooks: this.hooks,
        mirror: (state, code, reason, transport, welcome) => {
          if (this.#group?.follower !== follower || this.#role.role !== 'follower') return;
          this.#welcome = welcome;
          this.#setState(state, code, reason, transport);
        },
        silent: () => this.#feed({ type: 'silent' }),
        token: () => this.#ownToken(sub),
      },
      this.opts.requestTimeoutMs,
    );
    this.#group = {
      name,
      sub,
      channel,
      releaseTab: () => releaseTab(),
      abort: undefined,
      release: undefined,
      follower,
      leader: undefined,
    };
    channel.onmessage = (e: MessageEvent) => this.#onMessage(e.data);
    this.#queueLock(false);
  }

  #leave(): void {
    const group = this.#group;
    if (!group) return;
    this.#stay++;
    this.#post({ t: 'bye' });
    this.#group = undefined;
    group.channel.onmessage = null;
    group.channel.close();
    group.abort?.abort();
    group.release?.();
    group.releaseTab();
    group.follower.stop();
    group.leader?.stop();
    // Frozen or hidden away: not connected until it joins again (disconnect() reports its own state).
    if (this.#role.role === 'paused') this.#setState('connecting', 0, 'the page is frozen');
  }

  /** Queue for the leader lock (or take it from a silent leader). */
  #queueLock(steal: boolean): void {
    const group = this.#group;
    const env = this.env;
    if (!group || !env) return;
    group.abort?.abort();
    const abort = steal ? undefined : new AbortController();
    group.abort = abort;
    let release: (() => void) | undefined;
    env.locks
      .request(group.name, steal ? { steal: true } : { signal: abort?.signal }, () => {
        if (this.#group !== group || group.release) return undefined;
        if (group.abort === abort) group.abort = undefined;
        return new Promise<void>((resolve) => {
          group.release = release = resolve;
          this.#feed({ type: 'granted', now: Date.now() });
        });
      })
      .catch(() => {
        // Rejected while held: another tab stole the lock. Rejected while queued: we aborted it.
        if (release && group.release === release && this.#group === group) {
          group.release = undefined;
          this.#feed({ type: 'lost' });
        }
      });
  }

  #lead(term: number): void {
    const group = this.#group;
    if (!group) return;
    this.#setState('connecting', 0, 'this tab leads');
    group.follower.idle();
    const leader: Leader = new Leader({ ...this.opts, token: this.#token ?? this.opts.token }, this.#tab, group.sub, {
      post: (msg) => this.#post(msg, term),
      hooks: this.#hooksFor(() => this.#group?.leader === leader),
      alive: () => this.#alive(group),
    });
    group.leader = leader;
    leader.start();
  }

  #unlead(): void {
    const group = this.#group;
    const leader = group?.leader;
    if (!group || !leader) return;
    group.leader = undefined;
    leader.stop();
    const release = group.release;
    group.release = undefined;
    release?.();
    this.#setState('connecting', 0, 'another tab leads');
  }

  #post(msg: LeaderMessage | FollowerMessage, term?: number): void {
    this.#group?.channel.postMessage({ ...msg, v: VERSION, from: this.#tab, ...(term !== undefined ? { term } : {}) });
  }

  #onMessage(data: unknown): void {
    const group = this.#group;
    const parsed = parseMessage(data);
    if (!group || !parsed || parsed.msg.from === this.#tab) return;
    if (parsed.kind === 'follower') {
      const msg = parsed.msg;
      if (group.leader) return group.leader.onMessage(msg);
      if (msg.t === 'bye') this.#feed({ type: 'bye', id: msg.from });
      return;
    }
    const msg = parsed.msg;
    const role = this.#role;
    const known = role.leader;
    if (role.role === 'leader' ? msg.term > role.term : known?.id !== msg.from || known.term !== msg.term) {
      this.#feed({ type: 'leader', id: msg.from, term: msg.term });
    }
    const now = this.#role.leader;
    if (this.#role.role === 'follower' && now?.id === msg.from && now.term === msg.term) group.follower.onMessage(msg);
  }

  /** A token of this tab's user for a leader that asks: a fresh one from getToken(), else the one held. */
  async #ownToken(sub: string): Promise<string | undefined> {
    const getToken = this.opts.getToken;
    const token = getToken ? await getToken() : (this.#token ?? this.opts.token);
    return tokenOf(sub, token) ? token : undefined;
  }

  async #alive(group: Group): Promise<Set<string> | undefined> {
    const snapshot = await this.env?.locks.query();
    if (!snapshot) return undefined;
    const names = [...(snapshot.held ?? []), ...(snapshot.pending ?? [])].map((l) => l.name);
    return tabsAlive(group.name, names);
  }
}
