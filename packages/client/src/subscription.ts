/**
 * One server subscription per channel, shared by every handle on it (ref-counted).
 *
 * - States: `subscribing` (wanted: phase `waiting` for a connection, or
 *   `requested` and waiting for the reply), `subscribed`, `unsubscribed` (ended by
 *   the server, with an error, or released). `#setPhase` is the one transition point.
 * - Position: the last `{epoch, offset}` applied. Every (re)subscribe sends it as
 *   `since`, so a reconnect replays exactly what was missed.
 * - Dedup: an event at or before the position in the same epoch is dropped. A gap
 *   (offset jumps) or a live event from another epoch never happens on a correct
 *   server; if it does, we resubscribe from the position rather than skip silently.
 * - `recovered: false`: the position restarts at the reply's, task channels take
 *   the reply's snapshot, and listeners get a `resync` notice.
 * - Task snapshots follow the version rule (tasks.ts): never replaced by one that
 *   is not newer.
 */
import {
  isTaskEventData,
  parseChannel,
  type EventFrame,
  type Position,
  type SubscribeResult,
  type Task,
  type UnsubscribedFrame,
} from '@taskwire/protocol';
import { Listeners } from './emitter.js';
import { TaskwireClientError } from './errors.js';
import type { Settle } from './requests.js';
import { isNewer } from './tasks.js';

const ignore = (): void => undefined;

export type SubscriptionState = 'subscribing' | 'subscribed' | 'unsubscribed';
type Phase = 'waiting' | 'requested' | 'subscribed' | 'unsubscribed';
const PUBLIC: Record<Phase, SubscriptionState> = {
  waiting: 'subscribing',
  requested: 'subscribing',
  subscribed: 'subscribed',
  unsubscribed: 'unsubscribed',
};

export type ChannelNotice =
  | { type: 'event'; event: EventFrame }
  /** Recovery was impossible (`recovered: false`): state was rebuilt from the reply; events in between are lost. */
  | { type: 'resync'; position: Position }
  | { type: 'state'; state: SubscriptionState; error: TaskwireClientError | null }
  /** The task snapshot changed (task channels only). */
  | { type: 'snapshot'; task: Task | null };

/** What a subscription needs from the client: a way to send requests while connected. */
export interface SubscriptionHost {
  isConnected(): boolean;
  send<T>(
    frame:
      { op: 'subscribe'; channel: string; since?: Position; history?: number } | { op: 'unsubscribe'; channel: string },
    settle: Settle<T>,
  ): void;
  error(error: TaskwireClientError): void;
}

export class Subscription {
  readonly channel: string;
  readonly listeners: Listeners<ChannelNotice> = new Listeners();
  #phase: Phase = 'waiting';
  #error: TaskwireClientError | null = null;
  #position: Position | null = null;
  /** Task channels: undefined while loading, null when the task does not exist yet. */
  #snapshot: Task | null | undefined = undefined;
  #refs = 0;
  /** Bumped per subscribe request, so a stale reply is ignored. */
  #attempt = 0;
  readonly #isTask: boolean;

  constructor(
    channel: string,
    private readonly host: SubscriptionHost,
    /** Events to load on the first subscribe (no position yet). */
    private readonly history = 0,
  ) {
    this.channel = channel;
    this.#isTask = parseChannel(channel)?.kind === 'task';
  }

  get state(): SubscriptionState {
    return PUBLIC[this.#phase];
  }
  get error(): TaskwireClientError | null {
    return this.#error;
  }
  get position(): Position | null {
    return this.#position;
  }
  get snapshot(): Task | null | undefined {
    return this.#snapshot;
  }

  retain(): void {
    this.#refs += 1;
  }

  /** Drop one reference; at zero, unsubscribe. Returns true when this was the last. */
  release(): boolean {
    this.#refs = Math.max(0, this.#refs - 1);
    if (this.#refs > 0) return false;
    if (this.#phase !== 'unsubscribed' && this.#phase !== 'waiting' && this.host.isConnected()) {
      this.host.send({ op: 'unsubscribe', channel: this.channel }, ignore);
    }
    this.#attempt += 1;
    this.#setPhase('unsubscribed', null);
    return true;
  }

  /**
   * Send subscribe (with `since` when we have a position) if one is wanted and none
   * is under way: called on every welcome and by every new handle. `again` also
   * restarts a subscription the server ended.
   */
  start(again = false): void {
    if (this.#refs === 0 || !this.host.isConnected()) return;
    if (this.#phase === 'requested' || this.#phase === 'subscribed') return;
    if (this.#phase === 'unsubscribed' && !again) return;
    this.#request();
  }

  #request(): void {
    const attempt = ++this.#attempt;
    this.#setPhase('requested', null);
    const since = this.#position;
    const frame = since
      ? { op: 'subscribe' as const, channel: this.channel, since }
      : { op: 'subscribe' as const, channel: this.channel, ...(this.history > 0 ? { history: this.history } : {}) };
    this.host.send<SubscribeResult>(frame, (outcome) => {
      if (attempt !== this.#attempt) return;
      if (outcome.ok) return this.#onReply(outcome.result);
      // Lost with the connection: the next welcome resubscribes. Anything else is the server's answer.
      const { error } = outcome;
      if (error.code === 'disconnected' || error.code === 'timeout') return;
      this.#setPhase('unsubscribed', error);
      this.host.error(error);
    });
  }

  /** The transport is gone: wait for the next welcome. */
  suspend(): void {
    this.#attempt += 1;
    if (this.#phase !== 'unsubscribed') this.#setPhase('waiting', null);
  }

  #onReply(result: SubscribeResult): void {
    if (result.recovered === false) {
      this.#position = { epoch: result.epoch, offset: result.offset };
      if (this.#isTask && result.snapshot !== undefined) this.#applySnapshot(result.snapshot);
      this.#setPhase('subscribed', null);
      this.listeners.emit({ type: 'resync', position: this.#position });
      return;
    }
    if (result.recovered === undefined) {
      // A fresh subscribe: the snapshot and position are the starting point; `events`
      // (when `history` was asked) are the latest ones, all at or before `offset`.
      if (this.#isTask && result.snapshot !== undefined) this.#applySnapshot(result.snapshot);
      const first = result.events[0];
      this.#position = first
        ? { epoch: first.epoch, offset: first.offset - 1 }
        : { epoch: result.epoch, offset: result.offset };
    }
    this.#setPhase('subscribed', null);
    for (const event of result.events) this.onEvent(event);
    // Whatever the replay held, we are now at the reply's position.
    if (this.#position && this.#position.offset < result.offset && this.#position.epoch === result.epoch) {
      this.#position = { epoch: result.epoch, offset: result.offset };
    }
  }

  /** A live or replayed event for this channel. */
  onEvent(event: EventFrame): void {
    if (this.#phase !== 'subscribed') return;
    const pos = this.#position;
    if (pos) {
      // Another epoch means the stream was reset under us: ask the server, which answers
      // `recovered: false` with a snapshot, rather than guess.
      if (event.epoch !== pos.epoch) return this.#resubscribe();
      if (event.offset <= pos.offset) return; // already seen
      if (event.offset > pos.offset + 1) return this.#resubscribe(); // a gap: recover, never skip
    }
    this.#position = { epoch: event.epoch, offset: event.offset };
    if (
      this.#isTask &&
      isTaskEventData(event.data) &&
      (event.data.kind === 'task.created' || event.data.kind === 'task.updated')
    ) {
      this.#applySnapshot(event.data.task);
    }
    this.listeners.emit({ type: 'event', event });
  }

  onUnsubscribed(frame: UnsubscribedFrame): void {
    if (frame.resubscribe) return this.#resubscribe();
    this.#attempt += 1;
    const error = new TaskwireClientError(frame.code, frame.message);
    this.#setPhase('unsubscribed', error);
    this.host.error(error);
  }

  #resubscribe(): void {
    // The server may still hold the old subscription (a gap we detected): end it first.
    // Frames are handled in order, so the subscribe below follows the unsubscribe.
    if (this.#phase === 'subscribed') this.host.send({ op: 'unsubscribe', channel: this.channel }, ignore);
    if (this.#refs > 0 && this.host.isConnected()) this.#request();
  }

  #applySnapshot(task: Task | null): void {
    if (task === null) {
      if (this.#snapshot !== undefined) return; // never forget a task we hold
    } else if (!isNewer(task, this.#snapshot)) return;
    this.#snapshot = task;
    this.listeners.emit({ type: 'snapshot', task });
  }

  #setPhase(phase: Phase, error: TaskwireClientError | null): void {
    const before = PUBLIC[this.#phase];
    this.#phase = phase;
    const changed = before !== PUBLIC[phase] || error !== this.#error;
    this.#error = error;
    if (changed) this.listeners.emit({ type: 'state', state: PUBLIC[phase], error });
  }
}
