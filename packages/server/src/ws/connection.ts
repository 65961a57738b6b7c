/**
 * One client connection (docs/protocol.md §2), independent of the transport: it speaks to a
 * tiny socket interface, so the `ws` endpoint (and tests) plug any socket in.
 *
 * - States and their single transition point: `connection-state.ts`. Cleanup (hub
 *   subscriptions, user slot, timer) runs exactly once, on leaving authenticating/open.
 * - Frames are processed strictly in order, with backpressure, not rejection
 *   (`frame-order.ts`): a frame whose work is synchronous is answered at once.
 * - One timer slot: the auth timeout, then the token expiry, then the close grace.
 * - Nothing is sent unless the socket is open; after every send, a send buffer over
 *   `sendBufferBytes` closes the connection with 4009 (slow consumer).
 * - Decisions (docs/protocol.md §6): a second subscribe to one channel is `bad_request`
 *   "already subscribed" (the first stays); unsubscribe is idempotent (`{}`); a binary
 *   frame is a bad frame.
 */
import {
  TaskwireError,
  isValidChannel,
  parseClientFrame,
  type ErrorCode,
  type Position,
  type PublishFrame,
  type RefreshFrame,
  type StreamFrame,
  type SubscribeFrame,
  type UnsubscribeFrame,
} from '@taskwire/protocol';
import { AuthError, type Principal } from '../auth/types.js';
import type { EncodedEvent, Subscriber } from '../hub/types.js';
import { SmallMap } from '../util/small-map.js';
import {
  BadFrameWindow,
  CLOSE,
  TimerSlot,
  expiryOf,
  internalError,
  welcomeFrame,
  type CloseSpec,
} from './connection-parts.js';
import { canSend, releasesResources, transition, type ConnectionState } from './connection-state.js';
import type { ConnectionDeps, Credential, WireSocket } from './connection-types.js';
import { FrameOrder } from './frame-order.js';

export type { ConnectionDeps, Credential, WireSocket };

/** setTimeout's largest delay; a later token expiry is re-checked when it fires. */
const MAX_TIMER_MS = 2_147_483_647;
const EMPTY_RESULT = '{}';
const positionJson = (p: Position): string => `{"epoch":${JSON.stringify(p.epoch)},"offset":${p.offset}}`;

export class Connection<S extends WireSocket = WireSocket> extends FrameOrder implements Subscriber {
  private state: ConnectionState = 'authenticating';
  private principal: Principal | null = null;
  /** Channel → whether its subscribe is still being set up. */
  private readonly subs = new SmallMap<string, 'pending' | 'active'>();
  private readonly timer: TimerSlot;
  /** Made by the first bad frame. */
  private badFrames: BadFrameWindow | null = null;

  constructor(
    readonly id: string,
    readonly socket: S,
    private readonly deps: ConnectionDeps<S>,
  ) {
    super();
    this.timer = new TimerSlot(deps.timers);
  }

  get currentState(): ConnectionState {
    return this.state;
  }

  get user(): string | null {
    return this.principal?.sub ?? null;
  }

  get subscriptionCount(): number {
    return this.subs.size;
  }

  /** Start the auth timeout; with a credential from the URL, authenticate at once. */
  start(credential: Credential | null): void {
    const ms = this.deps.config.authTimeoutMs;
    this.timer.set(ms, () => this.closeWith(CLOSE.authTimeout, `no valid auth within ${ms} ms`));
    if (credential) this.enqueue(() => this.authenticate(credential));
  }

  /** One inbound message: its text, or null for a binary frame. */
  onMessage(text: string | null): void {
    if (!canSend(this.state)) return;
    this.enqueue(() => this.process(text));
  }

  /** The transport reports its socket closed (any reason). */
  onSocketClosed(): void {
    this.setState('closed');
  }

  /** Close (after an `error` frame when the spec has one, with `message` or the reason). Idempotent. */
  closeWith(spec: CloseSpec, message?: string): void {
    if (!canSend(this.state)) return;
    if (spec.error)
      this.socket.send(JSON.stringify({ type: 'error', code: spec.error, message: message ?? spec.reason }));
    this.setState('closing');
    try {
      this.socket.close(spec.code, spec.reason);
    } catch (err) {
      this.deps.logger.debug({ err, connection: this.id }, 'ws: close failed; terminating');
      this.socket.terminate();
    }
    this.timer.set(this.deps.closeGraceMs, () => this.socket.terminate());
  }

  /* ---------- Subscriber (called by the Hub) ---------- */

  deliver(_channel: string, event: EncodedEvent): void {
    if (this.state !== 'open') return;
    this.socket.sendEvent(event);
    this.checkBuffer();
    if (this.deps.delivered) this.deps.delivered.ws += 1;
  }

  ended(channel: string, info: Parameters<Subscriber['ended']>[1]): void {
    if (!this.subs.delete(channel) || this.state !== 'open') return;
    const { code, message, resubscribe, reason } = info;
    const frame = { type: 'unsubscribed', channel, code, message, resubscribe, ...(reason ? { reason } : {}) };
    this.send(JSON.stringify(frame));
  }

  /* ---------- internals ---------- */

  protected get running(): boolean {
    return canSend(this.state);
  }

  protected failed(err: unknown): void {
    this.deps.logger.error({ err, connection: this.id }, 'ws: frame handling failed');
    this.closeWith(CLOSE.internal);
  }

  protected get maxPending(): number {
    return this.deps.config.maxPendingFrames;
  }

  protected pauseReading(): void {
    this.socket.pause();
  }

  protected resumeReading(): void {
    this.socket.resume();
  }

  /** The single transition point: runs exit and entry actions. */
  private setState(to: ConnectionState): void {
    const from = this.state;
    const next = transition(from, to);
    if (next === null) return;
    this.state = next;
    if (from === 'authenticating') this.deps.onAuthSettled?.(this);
    if (next === 'open') this.timer.clear();
    if (releasesResources(from, next)) this.release();
    if (next === 'closed') {
      this.timer.clear();
      this.deps.onClosed(this);
    }
  }

  private release(): void {
    this.timer.clear();
    this.subs.clear();
    this.deps.channels.release(this);
    if (this.principal) {
      this.deps.channels.budget.leave('ws');
      this.deps.channels.budget.releaseUser(this.principal.sub);
    }
  }

  private send(text: string): void {
    this.socket.send(text);
    this.checkBuffer();
  }

  /** After every send: a send buffer over the limit closes the connection with 4009 (slow consumer). */
  private checkBuffer(): void {
    if (this.socket.bufferedAmount > this.deps.config.sendBufferBytes && this.state === 'open') {
      this.deps.onSlowConsumer();
      this.closeWith(CLOSE.slowConsumer);
    }
  }

  private sendError(code: ErrorCode, message: string): void {
    if (canSend(this.state)) this.send(JSON.stringify({ type: 'error', code, message }));
    if (code === 'bad_request') this.countBadFrame();
  }

  private reply(id: number, resultJson: string): void {
    if (this.state === 'open') this.send(`{"type":"reply","id":${id},"result":${resultJson}}`);
  }

  private replyError(id: number, err: TaskwireError): void {
    if (this.state === 'open') this.send(JSON.stringify({ type: 'reply', id, error: err.toJSON() }));
    if (err.code === 'bad_request') this.countBadFrame();
  }

  /** The 20th bad frame within a minute closes the connection with 4500. */
  private countBadFrame(): void {
    if ((this.badFrames ??= new BadFrameWindow()).record())
      this.closeWith(CLOSE.badFrames, '20 bad frames within a minute');
  }

  private process(text: string | null): Promise<void> | void {
    const parsed = text === null ? null : parseClientFrame(text);
    if (this.state === 'authenticating') {
      if (parsed?.ok && parsed.frame.op === 'auth') {
        return this.authenticate({ kind: 'token', value: parsed.frame.token });
      }
      return this.closeWith(
        CLOSE.unauthorized,
        'authenticate first: the first frame must be {"op":"auth","token":"…"}',
      );
    }
    if (parsed === null) return this.sendError('bad_request', 'binary frames are not supported: send JSON text frames');
    if (!parsed.ok) {
      const err = new TaskwireError('bad_request', parsed.message);
      return parsed.id === undefined ? this.sendError(err.code, err.message) : this.replyError(parsed.id, err);
    }
    const frame = parsed.frame;
    switch (frame.op) {
      case 'auth':
        return this.sendError('bad_request', 'already authenticated: use refresh to replace the token');
      case 'ping':
        return this.reply(frame.id, EMPTY_RESULT);
      case 'subscribe':
        return this.subscribe(frame);
      case 'unsubscribe':
        return this.unsubscribe(frame);
      case 'publish':
        return this.publish(frame);
      case 'refresh':
        return this.refresh(frame);
      case 'stream':
        return this.readStream(frame);
    }
  }

  private async authenticate(credential: Credential): Promise<void> {
    let principal: Principal;
    try {
      principal =
        credential.kind === 'token'
          ? await this.deps.auth.verifyToken(credential.value)
          : await this.deps.auth.redeemTicket(credential.value);
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      return err.reason === 'expired'
        ? this.closeWith(CLOSE.tokenExpired)
        : this.closeWith(CLOSE.unauthorized, err.message);
    }
    if (this.state !== 'authenticating') return;
    if (this.isExpired(principal)) return this.closeWith(CLOSE.tokenExpired);
    // Slots are taken once authenticated: a socket that never authenticates holds none (see endpoint.ts).
    const { budget } = this.deps.channels;
    if (!budget.admit('ws')) return this.closeWith(CLOSE.connectionLimit, 'this node has reached its connection limit');
    if (!budget.claimUser(principal.sub)) {
      budget.leave('ws');
      return this.closeWith(CLOSE.connectionLimit, 'too many connections for this user');
    }
    this.principal = principal;
    this.setState('open');
    this.send(welcomeFrame(this.id, principal.sub, this.deps.config.heartbeatMs));
    if (this.currentState === 'open') this.scheduleExpiry();
  }

  private expiryDeadline(p: Principal): number | null {
    return expiryOf(p, this.deps.config.clockLeewaySec);
  }

  private isExpired(p: Principal): boolean {
    const deadline = this.expiryDeadline(p);
    return deadline !== null && deadline <= Date.now();
  }

  private scheduleExpiry(): void {
    const deadline = this.principal ? this.expiryDeadline(this.principal) : null;
    if (deadline === null) return this.timer.clear();
    this.timer.set(Math.min(Math.max(0, deadline - Date.now()), MAX_TIMER_MS), () => {
      if (this.principal && this.isExpired(this.principal)) {
        this.closeWith(CLOSE.tokenExpired);
      } else this.scheduleExpiry();
    });
  }

  private requirePrincipal(): Principal {
    if (!this.principal) throw new Error('connection is not authenticated');
    return this.principal;
  }

  private async subscribe(f: SubscribeFrame): Promise<void> {
    const { id, channel } = f;
    if (!isValidChannel(channel))
      return this.replyError(id, new TaskwireError('bad_request', `invalid channel name ${JSON.stringify(channel)}`));
    if (this.subs.has(channel))
      return this.replyError(id, new TaskwireError('bad_request', `already subscribed to ${channel}`));
    const max = this.deps.config.maxSubscriptionsPerConnection;
    if (this.subs.size >= max)
      return this.replyError(id, new TaskwireError('limit_exceeded', `at most ${max} subscriptions per connection`));
    this.subs.set(channel, 'pending');
    let resultJson: string;
    try {
      const result = await this.deps.channels.subscribe(this.requirePrincipal(), this, {
        channel,
        since: f.since,
        history: f.history,
        alive: () => this.state === 'open',
      });
      if (result === null) return;
      resultJson = JSON.stringify(result);
    } catch (err) {
      if (this.subs.get(channel) === 'pending') this.subs.delete(channel);
      return this.replyError(id, err instanceof TaskwireError ? err : internalError(err));
    }
    if (this.state !== 'open') return;
    this.subs.set(channel, 'active');
    this.reply(id, resultJson);
    if (this.state === 'open') this.deps.channels.activate(this, channel);
  }

  private unsubscribe(f: UnsubscribeFrame): Promise<void> | void {
    if (!isValidChannel(f.channel))
      return this.replyError(
        f.id,
        new TaskwireError('bad_request', `invalid channel name ${JSON.stringify(f.channel)}`),
      );
    this.subs.delete(f.channel);
    this.deps.channels.unsubscribe(this, f.channel);
    this.reply(f.id, EMPTY_RESULT);
  }

  /** Answered at once when the engine is in process (no promise), else when its write resolves. */
  private publish(f: PublishFrame): Promise<void> | void {
    let at: Position | Promise<Position>;
    try {
      at = this.deps.channels.publish(this.requirePrincipal(), f);
    } catch (err) {
      return this.replyError(f.id, err instanceof TaskwireError ? err : internalError(err));
    }
    if (at instanceof Promise) return this.answer(f.id, at, positionJson);
    this.reply(f.id, positionJson(at));
  }

  private readStream(f: StreamFrame): Promise<void> {
    return this.answer(f.id, this.deps.channels.readStream(this.requirePrincipal(), f.task, f.stream ?? 'output'));
  }

  /** Reply with what `work` resolves to (as JSON), or with its error. */
  private answer<T>(id: number, work: Promise<T>, json: (result: T) => string = JSON.stringify): Promise<void> {
    return work.then(
      (result) => this.reply(id, json(result)),
      (err: unknown) => this.replyError(id, err instanceof TaskwireError ? err : internalError(err)),
    );
  }

  private async refresh(f: RefreshFrame): Promise<void> {
    let next: Principal;
    try {
      next = await this.deps.auth.verifyToken(f.token);
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      return this.replyError(
        f.id,
        new TaskwireError('unauthorized', err.reason === 'expired' ? 'token expired' : err.message),
      );
    }
    if (this.state !== 'open') return;
    const current = this.requirePrincipal();
    if (next.sub !== current.sub) {
      return this.replyError(
        f.id,
        new TaskwireError('forbidden', 'the new token is for another user; the connection keeps its token'),
      );
    }
    this.principal = next;
    this.scheduleExpiry();
    // The new token's grants apply to what is already subscribed, before the refresh is answered.
    for (const channel of this.subs.keys()) {
      const ended = await this.deps.channels.recheck(next, channel);
      if (this.state !== 'open') return;
      if (ended && this.subs.delete(channel)) {
        this.deps.channels.unsubscribe(this, channel);
        this.send(JSON.stringify({ type: 'unsubscribed', channel, ...ended }));
      }
    }
    this.reply(f.id, EMPTY_RESULT);
  }
}
