/**
 * One channel of the Hub: its position, its local subscribers and the ordered
 * delivery of its events. States and transitions: `channel-state.ts`; `move()` is the
 * only place the phase changes, and leaving for `closed` runs the exit actions once
 * (every subscriber detached, the Hub told so it releases the engine subscription).
 *
 * - Only a gapless, duplicate-free sequence is passed on: a duplicate is dropped, a
 *   gap is filled from history (`gap-fill.ts`) before anything later is delivered,
 *   and when it cannot be, or the epoch changes, every subscription ends with
 *   `resubscribe: true`.
 * - Each event is encoded once (`encoded-event.ts`) and the same bytes go to every
 *   subscriber; pending subscribers (being set up) buffer it.
 */
import type { Position } from '@taskwire/protocol';
import type { Logger } from 'pino';
import type { Engine, StoredEvent, Unsubscribe } from '../engine/types.js';
import { SmallMap } from '../util/small-map.js';
import { acceptsEvents, transition, type ChannelInput, type ChannelPhase } from './channel-state.js';
import { encodeEvent, eventPrefix, type EncodedEvent } from './encoded-event.js';
import { readGap } from './gap-fill.js';
import { isDeletionNotice } from '../engine/retention.js';
import type { RateCounter } from './rates.js';
import type { Subscriber } from './types.js';

export type EndInfo = Parameters<Subscriber['ended']>[1];

/** `pending` while its subscribe is set up (events are buffered), then `active`; `removed` is final. */
export type EntryPhase = 'pending' | 'active' | 'removed';

export interface Entry {
  readonly sub: Subscriber;
  phase: EntryPhase;
  /** While pending: events processed since registration, flushed by the Hub's activate(). */
  frames: EncodedEvent[];
  offsets: number[];
  /** The offset returned by subscribe(); activate() flushes only what is above it. */
  from: number;
}

/** What a channel needs from its Hub. */
export interface ChannelHost {
  readonly engine: Pick<Engine, 'history'>;
  readonly logger: Logger;
  readonly historySize: number;
  /** Once per broadcast event, after its first write, with the event's engine time. */
  readonly onFirstWrite: ((eventTime: number) => void) | undefined;
  readonly eventsIn: RateCounter;
  readonly eventsOut: RateCounter;
  /** An entry left the channel. */
  detached(channel: HubChannel, entry: Entry): void;
  /** The channel closed: the Hub forgets it and releases its engine subscription. */
  closed(channel: HubChannel): void;
}

export const NO_FRAMES: EncodedEvent[] = [];
export const NO_OFFSETS: number[] = [];
export const READY = Promise.resolve();
/** The queue of a channel with nothing queued (an idle channel holds no array); never written. */
const NO_EVENTS: StoredEvent[] = [];

export class HubChannel {
  private phase: ChannelPhase = 'starting';
  epoch = '';
  offset = 0;
  readonly entries = new SmallMap<Subscriber, Entry>();
  /** Resolves once started (every subscribe awaits it); rejects when the start failed. */
  ready: Promise<void> = READY;
  /** The engine subscription, once open (the Hub releases it when the channel closes). */
  unsubscribe: Unsubscribe | null = null;
  /** `{"type":"event","channel":…,"epoch":…,"offset":` for the current epoch, made on first use. */
  private prefix: Buffer | null = null;
  /** Immutable snapshot of `entries` for iteration; rebuilt lazily after a change. */
  private list: Entry[] | null = null;
  /** Events received but not processed yet (while starting, delivering or filling). */
  private queue: StoredEvent[] = NO_EVENTS;

  constructor(
    readonly name: string,
    private readonly host: ChannelHost,
  ) {}

  /** The phase (a getter, so a check after an `await` reads the current one). */
  get current(): ChannelPhase {
    return this.phase;
  }

  /** The one transition point. False (and nothing changes) when `input` is not allowed now. */
  private move(input: ChannelInput): boolean {
    const next = transition(this.phase, input);
    if (next === null) return false;
    this.phase = next;
    if (next === 'closed') {
      this.queue = NO_EVENTS;
      for (const entry of this.entries.values()) this.detach(entry);
      this.host.closed(this);
    }
    return true;
  }

  /** The engine subscription is live and the position read: deliver what queued up meanwhile. */
  started(position: Position): void {
    if (!this.move('started')) return;
    this.setPosition(position);
    this.ready = READY; // the start's promise and what it holds can go
    this.pump();
  }

  /** No more events; every subscriber detached without being told. Idempotent. */
  close(): void {
    this.move('close');
  }

  /** End every subscription and tell the active ones (pending ones fail their subscribe). */
  reset(info: EndInfo): void {
    if (this.phase === 'closed') return;
    if (info.reason === undefined)
      this.host.logger.warn(
        { channel: this.name, reason: info.message },
        'hub: ending every subscription of a channel',
      );
    const active = this.entries.values().filter((e) => e.phase === 'active');
    this.close();
    for (const entry of active) this.safeEnded(entry.sub, info);
  }

  private deleted(): void {
    const id = this.name.slice('task:'.length);
    this.reset({ code: 'not_found', message: `task ${id} was deleted`, resubscribe: false, reason: 'deleted' });
  }

  add(entry: Entry): void {
    this.entries.set(entry.sub, entry);
    this.list = null;
  }

  /** Remove one entry; the last one out closes the channel. */
  remove(entry: Entry): void {
    if (entry.phase === 'removed') return;
    this.detach(entry);
    if (this.entries.size === 0) this.close();
  }

  /** The engine's listener. */
  onEngineEvent(event: StoredEvent): void {
    if (!acceptsEvents(this.phase)) return;
    // The task was deleted: nothing before or after matters any more (protocol 1.1 §8).
    if (isDeletionNotice(event)) return this.deleted();
    if (this.queue === NO_EVENTS) this.queue = [];
    this.queue.push(event);
    if (this.phase === 'live') this.pump();
  }

  /** Deliver a pending entry's buffered events above its reply offset, then make it active. */
  activate(entry: Entry): void {
    const { frames, offsets, from } = entry;
    entry.frames = NO_FRAMES;
    entry.offsets = NO_OFFSETS;
    entry.phase = 'active';
    let delivered = 0;
    for (let i = 0; i < frames.length && entry.phase === 'active'; i++) {
      const offset = offsets[i] as number;
      if (offset <= from) continue;
      delivered += 1;
      this.safeDeliver(entry.sub, frames[i] as EncodedEvent, offset);
    }
    if (delivered > 0) this.host.eventsOut.add(delivered);
  }

  private detach(entry: Entry): void {
    entry.phase = 'removed';
    entry.frames = NO_FRAMES;
    entry.offsets = NO_OFFSETS;
    this.entries.delete(entry.sub);
    this.list = null;
    this.host.detached(this, entry);
  }

  private setPosition(p: Position): void {
    this.offset = p.offset;
    if (this.epoch !== p.epoch) {
      this.epoch = p.epoch;
      this.prefix = null;
    }
  }

  /** Process queued events in order, until the queue is empty or a gap or close stops it. */
  private pump(): void {
    if (this.move('deliver')) this.drain();
  }

  /** The delivery loop (phase `delivering`); it ends drained, or stopped by a gap or a close. */
  private drain(): void {
    while (this.phase === 'delivering' && this.queue.length > 0) {
      const event = this.queue.shift() as StoredEvent;
      if (event.epoch !== this.epoch) {
        this.reset({ code: 'unavailable', message: 'the channel was reset (new epoch)', resubscribe: true });
      } else if (event.offset === this.offset + 1) {
        this.offset = event.offset;
        this.broadcast(event);
      } else if (event.offset > this.offset + 1) {
        this.queue.unshift(event);
        this.move('gap');
        void this.fillGap(event.offset - this.offset - 1);
      } // else: a duplicate, already delivered
    }
    this.move('drained');
  }

  private async fillGap(missing: number): Promise<void> {
    const since = { epoch: this.epoch, offset: this.offset };
    let events: StoredEvent[] | null;
    try {
      events = await readGap(this.host.engine, this.name, since, missing, this.host.historySize);
    } catch (err) {
      if (this.current === 'filling')
        this.host.logger.warn({ err, channel: this.name }, 'hub: reading history to fill a gap failed');
      events = null;
    }
    if (this.current !== 'filling') return;
    if (!events) {
      this.reset({ code: 'unavailable', message: 'events were lost and could not be recovered', resubscribe: true });
      return;
    }
    this.queue.unshift(...events);
    // Back in `delivering`: take the queue from where the gap stopped it.
    if (this.move('filled')) this.drain();
  }

  private encode(event: StoredEvent): EncodedEvent {
    let data = event.json;
    if (data === undefined) {
      try {
        data = JSON.stringify(event.data);
      } catch (err) {
        this.host.logger.error(
          { err, channel: this.name, offset: event.offset },
          'hub: event data is not JSON; sent as null',
        );
      }
    }
    this.prefix ??= eventPrefix(this.name, this.epoch);
    return encodeEvent(this.prefix, event.offset, event.time, data ?? 'null');
  }

  private broadcast(event: StoredEvent): void {
    const host = this.host;
    host.eventsIn.add(1);
    const frame = this.encode(event);
    const list = (this.list ??= this.entries.values());
    let delivered = 0;
    for (const entry of list) {
      if (entry.phase === 'active') {
        delivered += 1;
        this.safeDeliver(entry.sub, frame, event.offset);
        if (delivered === 1 && host.onFirstWrite) host.onFirstWrite(event.time);
      } else if (entry.phase === 'pending') {
        entry.frames.push(frame);
        entry.offsets.push(event.offset);
      }
    }
    if (delivered > 0) host.eventsOut.add(delivered);
  }

  private safeDeliver(sub: Subscriber, frame: EncodedEvent, offset: number): void {
    try {
      sub.deliver(this.name, frame, offset);
    } catch (err) {
      this.host.logger.error({ err, channel: this.name, subscriber: sub.id }, 'hub: a subscriber threw in deliver');
    }
  }

  private safeEnded(sub: Subscriber, info: EndInfo): void {
    try {
      sub.ended(this.name, info);
    } catch (err) {
      this.host.logger.error({ err, channel: this.name, subscriber: sub.id }, 'hub: a subscriber threw in ended');
    }
  }
}
