/**
 * The Hub: channel → local subscribers (DESIGN.md).
 *
 * - One engine subscription per channel per node, shared by every local subscriber
 *   of the channel: opened with the first, released when the last leaves (also when
 *   that happens while it is still being opened).
 * - Each event is encoded once to a Buffer (from the engine's JSON of its data, when it has
 *   it) and the same bytes go to every subscriber.
 * - The channel keeps its own position (`epoch`, `offset`) and only passes on a
 *   gapless, duplicate-free sequence: a duplicate is dropped, a gap is filled from
 *   history before anything later is delivered, and when it cannot be filled, or the
 *   epoch changes, every subscription of the channel ends with `resubscribe: true`.
 * - Gapless subscribe: a subscriber is registered as `pending` before anything is
 *   read, so every event processed from then on is buffered for it. Its position is
 *   the channel's position at that moment (everything up to it is in history,
 *   everything after it is in the buffer); `activate()` flushes the buffer above it.
 */
import {
  TaskwireError,
  parseChannel,
  type EventFrame,
  type Position,
  type SubscribeResult,
  type Task,
} from '@taskwire/protocol';
import type { Logger } from 'pino';
import type { Engine, StoredEvent, Unsubscribe } from '../engine/types.js';
import { encodeEvent, eventPrefix, type EncodedEvent } from './encoded-event.js';
import { SmallMap } from '../util/small-map.js';
import { RateCounter } from './rates.js';
import { readEvents } from './read-events.js';
import type { Hub, HubStats, HubSubscribeOptions, Subscriber } from './types.js';

export interface HubOptions {
  logger: Logger;
  /** More missed events than this → `recovered: false` without reading them. */
  recoveryLimit: number;
  /** Max events a `history` request returns; also the largest gap filled from history. */
  historySize: number;
  /**
   * Called once per broadcast event (not per subscriber), right after its first
   * write to a subscriber, with the engine's `time` of the event (delivery latency).
   */
  onFirstWrite?: (eventTime: number) => void;
}

type EndInfo = Parameters<Subscriber['ended']>[1];

/** `starting`: opening the engine subscription; `delivering`: inside a broadcast; `filling`: reading a gap from history. */
type ChannelPhase = 'starting' | 'live' | 'delivering' | 'filling' | 'closed';
type EntryPhase = 'pending' | 'active' | 'removed';

interface Entry {
  readonly sub: Subscriber;
  phase: EntryPhase;
  /** While pending: events processed since registration, flushed by activate(). */
  frames: EncodedEvent[];
  offsets: number[];
  /** The offset returned by subscribe(); activate() flushes only what is above it. */
  from: number;
}

interface Channel {
  readonly name: string;
  phase: ChannelPhase;
  epoch: string;
  /** `{"type":"event","channel":"<name>","epoch":"<epoch>","offset":` (see encoded-event.ts), made on first use per epoch. */
  prefix: Buffer | null;
  offset: number;
  readonly entries: SmallMap<Subscriber, Entry>;
  /** Immutable snapshot of `entries` for iteration; rebuilt lazily after a change. */
  list: Entry[] | null;
  unsubscribe: Unsubscribe | null;
  ready: Promise<void>;
  /** Events received but not processed yet (while starting, delivering or filling). */
  queue: StoredEvent[];
}

/** Read a phase without the narrowing TypeScript keeps across `await` (other code may have changed it). */
const phaseOf = (x: { phase: ChannelPhase | EntryPhase }): ChannelPhase | EntryPhase => x.phase;

const NO_FRAMES: EncodedEvent[] = [];
const NO_OFFSETS: number[] = [];
const READY = Promise.resolve();
/** The queue of a channel with nothing queued (an idle channel holds no array); never written. */
const NO_EVENTS: StoredEvent[] = [];

export function createHub(engine: Engine, opts: HubOptions): Hub {
  const { logger, historySize, onFirstWrite } = opts;
  const channels = new Map<string, Channel>();
  /** Each subscriber's channels (by name), for removeSubscriber. */
  const bySubscriber = new Map<Subscriber, SmallMap<string, Channel>>();
  const releasing = new Set<Promise<void>>();
  const eventsIn = new RateCounter();
  const eventsOut = new RateCounter();
  let subscriptions = 0;
  let engineSubscriptions = 0;
  let closed = false;

  function openChannel(name: string): Channel {
    const ch: Channel = {
      name,
      phase: 'starting',
      epoch: '',
      prefix: null,
      offset: 0,
      entries: new SmallMap(),
      list: null,
      unsubscribe: null,
      ready: Promise.resolve(),
      queue: NO_EVENTS,
    };
    channels.set(name, ch);
    ch.ready = start(ch);
    ch.ready.catch(() => undefined); // awaited by every subscribe(); this only marks it handled
    return ch;
  }

  async function start(ch: Channel): Promise<void> {
    try {
      const unsubscribe = await engine.subscribe(ch.name, (event) => onEngineEvent(ch, event));
      engineSubscriptions += 1;
      ch.unsubscribe = unsubscribe;
      if (phaseOf(ch) === 'closed') return releaseEngine(ch);
      // The engine subscription is live: everything after this position will reach the listener.
      const position = await engine.history(ch.name, { limit: 0 });
      if (phaseOf(ch) === 'closed') return;
      setPosition(ch, position);
      ch.phase = 'live';
      ch.ready = READY; // the start's promise and what it holds can go
      pump(ch);
    } catch (err) {
      logger.warn({ err, channel: ch.name }, 'hub: could not open the engine subscription');
      closeChannel(ch);
      throw new TaskwireError('unavailable', 'the engine is unavailable', { cause: err });
    }
  }

  function setPosition(ch: Channel, p: Position): void {
    ch.offset = p.offset;
    if (ch.epoch !== p.epoch) {
      ch.epoch = p.epoch;
      ch.prefix = null;
    }
  }

  function releaseEngine(ch: Channel): void {
    const unsubscribe = ch.unsubscribe;
    if (!unsubscribe) return;
    ch.unsubscribe = null;
    engineSubscriptions -= 1;
    const done: Promise<void> = unsubscribe()
      .catch((err: unknown) => logger.warn({ err, channel: ch.name }, 'hub: engine unsubscribe failed'))
      .finally(() => releasing.delete(done));
    releasing.add(done);
  }

  /** Close a channel: no more events, every entry removed (without `ended`), engine released. */
  function closeChannel(ch: Channel): void {
    if (ch.phase === 'closed') return;
    ch.phase = 'closed';
    if (channels.get(ch.name) === ch) channels.delete(ch.name);
    ch.queue = NO_EVENTS;
    for (const entry of ch.entries.values()) detach(ch, entry);
    releaseEngine(ch);
  }

  /** End every subscription of the channel and tell the active ones (pending ones fail their subscribe). */
  function resetChannel(ch: Channel, info: EndInfo): void {
    logger.warn({ channel: ch.name, reason: info.message }, 'hub: ending every subscription of a channel');
    const active = ch.entries.values().filter((e) => e.phase === 'active');
    closeChannel(ch);
    for (const entry of active) safeEnded(entry.sub, ch.name, info);
  }

  function detach(ch: Channel, entry: Entry): void {
    entry.phase = 'removed';
    entry.frames = NO_FRAMES;
    entry.offsets = NO_OFFSETS;
    ch.entries.delete(entry.sub);
    ch.list = null;
    subscriptions -= 1;
    const mine = bySubscriber.get(entry.sub);
    if (mine?.get(ch.name) === ch) {
      mine.delete(ch.name);
      if (mine.size === 0) bySubscriber.delete(entry.sub);
    }
  }

  function removeEntry(ch: Channel, entry: Entry): void {
    if (entry.phase === 'removed') return;
    detach(ch, entry);
    if (ch.entries.size === 0) closeChannel(ch);
  }

  function onEngineEvent(ch: Channel, event: StoredEvent): void {
    if (ch.phase === 'closed') return;
    if (ch.queue === NO_EVENTS) ch.queue = [];
    ch.queue.push(event);
    if (ch.phase === 'live') pump(ch);
  }

  /** Process queued events in order, until the queue is empty or a gap or close stops it. */
  function pump(ch: Channel): void {
    ch.phase = 'delivering';
    while (ch.phase === 'delivering' && ch.queue.length > 0) {
      const event = ch.queue.shift() as StoredEvent;
      if (event.epoch !== ch.epoch) {
        resetChannel(ch, { code: 'unavailable', message: 'the channel was reset (new epoch)', resubscribe: true });
      } else if (event.offset === ch.offset + 1) {
        ch.offset = event.offset;
        broadcast(ch, event);
      } else if (event.offset > ch.offset + 1) {
        ch.queue.unshift(event);
        ch.phase = 'filling';
        void fillGap(ch, event.offset - ch.offset - 1);
      } // else: a duplicate, already delivered
    }
    if (ch.phase === 'delivering') ch.phase = 'live';
  }

  async function fillGap(ch: Channel, missing: number): Promise<void> {
    const since = { epoch: ch.epoch, offset: ch.offset };
    try {
      const h = missing <= historySize ? await engine.history(ch.name, { since, limit: missing }) : null;
      if (phaseOf(ch) !== 'filling') return;
      if (!h || !h.recovered || h.events.length !== missing || h.events[0]?.offset !== since.offset + 1) {
        resetChannel(ch, {
          code: 'unavailable',
          message: 'events were lost and could not be recovered',
          resubscribe: true,
        });
        return;
      }
      ch.queue.unshift(...h.events);
    } catch (err) {
      if (phaseOf(ch) !== 'filling') return;
      logger.warn({ err, channel: ch.name }, 'hub: reading history to fill a gap failed');
      resetChannel(ch, {
        code: 'unavailable',
        message: 'events were lost and could not be recovered',
        resubscribe: true,
      });
      return;
    }
    pump(ch);
  }

  function encode(ch: Channel, event: StoredEvent): EncodedEvent {
    let data = event.json;
    if (data === undefined) {
      try {
        data = JSON.stringify(event.data);
      } catch (err) {
        logger.error({ err, channel: ch.name, offset: event.offset }, 'hub: event data is not JSON; sent as null');
      }
    }
    ch.prefix ??= eventPrefix(ch.name, ch.epoch);
    return encodeEvent(ch.prefix, event.offset, event.time, data ?? 'null');
  }

  function broadcast(ch: Channel, event: StoredEvent): void {
    eventsIn.add(1);
    const frame = encode(ch, event);
    const list = (ch.list ??= ch.entries.values());
    let delivered = 0;
    for (const entry of list) {
      if (entry.phase === 'active') {
        delivered += 1;
        safeDeliver(entry.sub, ch.name, frame, event.offset);
        if (delivered === 1 && onFirstWrite) onFirstWrite(event.time);
      } else if (entry.phase === 'pending') {
        entry.frames.push(frame);
        entry.offsets.push(event.offset);
      }
    }
    if (delivered > 0) eventsOut.add(delivered);
  }

  function safeDeliver(sub: Subscriber, channel: string, frame: EncodedEvent, offset: number): void {
    try {
      sub.deliver(channel, frame, offset);
    } catch (err) {
      logger.error({ err, channel, subscriber: sub.id }, 'hub: a subscriber threw in deliver');
    }
  }

  function safeEnded(sub: Subscriber, channel: string, info: EndInfo): void {
    try {
      sub.ended(channel, info);
    } catch (err) {
      logger.error({ err, channel, subscriber: sub.id }, 'hub: a subscriber threw in ended');
    }
  }

  function cancelled(): TaskwireError {
    return new TaskwireError('unavailable', 'the subscription ended while it was being set up; subscribe again');
  }

  const hub: Hub = {
    async subscribe(sub: Subscriber, channel: string, o: HubSubscribeOptions): Promise<SubscribeResult> {
      if (closed) throw new TaskwireError('unavailable', 'the server is shutting down');
      const ch = channels.get(channel) ?? openChannel(channel);
      if (ch.entries.has(sub)) throw new TaskwireError('bad_request', `already subscribed to ${channel}`);
      const entry: Entry = { sub, phase: 'pending', frames: [], offsets: [], from: 0 };
      ch.entries.set(sub, entry);
      ch.list = null;
      subscriptions += 1;
      let mine = bySubscriber.get(sub);
      if (!mine) bySubscriber.set(sub, (mine = new SmallMap()));
      mine.set(channel, ch);

      try {
        await ch.ready;
      } catch (err) {
        removeEntry(ch, entry);
        throw err;
      }
      if (phaseOf(entry) === 'removed') throw cancelled();
      const at: Position = { epoch: ch.epoch, offset: ch.offset };
      const parsed = o.snapshot ? parseChannel(channel) : null;
      let read: [{ recovered?: boolean; events: EventFrame[] }, Task | null | undefined];
      try {
        read = await Promise.all([
          readEvents(engine, opts, channel, at, o),
          parsed?.kind === 'task' ? engine.getTask(parsed.id) : Promise.resolve(undefined),
        ]);
      } catch (err) {
        removeEntry(ch, entry);
        if (err instanceof TaskwireError) throw err;
        throw new TaskwireError('unavailable', 'the engine is unavailable', { cause: err });
      }
      if (phaseOf(entry) === 'removed') throw cancelled();
      entry.from = at.offset;
      const [events, snapshot] = read;
      const result: SubscribeResult = { channel, epoch: at.epoch, offset: at.offset, ...events };
      if (snapshot !== undefined) result.snapshot = snapshot;
      return result;
    },

    activate(sub: Subscriber, channel: string): void {
      const ch = channels.get(channel);
      const entry = ch?.entries.get(sub);
      if (!ch || !entry || entry.phase !== 'pending') return;
      const { frames, offsets, from } = entry;
      entry.frames = NO_FRAMES;
      entry.offsets = NO_OFFSETS;
      entry.phase = 'active';
      let delivered = 0;
      for (let i = 0; i < frames.length && entry.phase === 'active'; i++) {
        const offset = offsets[i] as number;
        if (offset <= from) continue;
        delivered += 1;
        safeDeliver(sub, channel, frames[i] as EncodedEvent, offset);
      }
      if (delivered > 0) eventsOut.add(delivered);
    },

    unsubscribe(sub: Subscriber, channel: string): void {
      const ch = channels.get(channel);
      const entry = ch?.entries.get(sub);
      if (ch && entry) removeEntry(ch, entry);
    },

    removeSubscriber(sub: Subscriber): void {
      const mine = bySubscriber.get(sub);
      if (!mine) return;
      for (const ch of mine.values()) {
        const entry = ch.entries.get(sub);
        if (entry) removeEntry(ch, entry);
      }
      bySubscriber.delete(sub);
    },

    stats(): HubStats {
      return {
        channels: channels.size,
        subscriptions,
        engineSubscriptions,
        eventsIn: eventsIn.total,
        eventsOut: eventsOut.total,
        eventsInPerSecond: eventsIn.perSecond(),
        eventsOutPerSecond: eventsOut.perSecond(),
      };
    },

    async close(): Promise<void> {
      closed = true;
      for (const ch of Array.from(channels.values())) closeChannel(ch);
      await Promise.all(Array.from(releasing));
    },
  };
  return hub;
}
