/**
 * The Hub: channel → local subscribers, with reference counting.
 *
 * - One engine subscription per channel per node, shared by every local subscriber
 *   of the channel: opened with the first, released when the last leaves (also when
 *   that happens while it is still being opened). The channel itself (its position,
 *   ordered delivery, gap filling, encode-once) is `channel.ts`.
 * - Gapless subscribe: a subscriber is registered as `pending` before anything is
 *   read, so every event processed from then on is buffered for it. Its position is
 *   the channel's position at that moment (everything up to it is in history,
 *   everything after it is in the buffer); `activate()` flushes the buffer above it.
 * - The Hub is `running` until close(), then `closed`: every channel closes and
 *   subscribe() answers `unavailable`.
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
import type { Engine } from '../engine/types.js';
import { SmallMap } from '../util/small-map.js';
import { HubChannel, type ChannelHost, type Entry } from './channel.js';
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

type HubPhase = 'running' | 'closed';

/** Read an entry's phase without the narrowing TypeScript keeps across `await`. */
const removed = (entry: Entry): boolean => entry.phase === 'removed';

function cancelled(): TaskwireError {
  return new TaskwireError('unavailable', 'the subscription ended while it was being set up; subscribe again');
}

class DefaultHub implements Hub, ChannelHost {
  readonly logger: Logger;
  readonly historySize: number;
  readonly onFirstWrite: ((eventTime: number) => void) | undefined;
  readonly eventsIn = new RateCounter();
  readonly eventsOut = new RateCounter();
  private phase: HubPhase = 'running';
  private readonly channels = new Map<string, HubChannel>();
  /** Each subscriber's channels (by name), for removeSubscriber. */
  private readonly bySubscriber = new Map<Subscriber, SmallMap<string, HubChannel>>();
  /** Engine unsubscribes under way (close() waits for them). */
  private readonly releasing = new Set<Promise<void>>();
  private subscriptions = 0;
  private engineSubscriptions = 0;

  constructor(
    readonly engine: Engine,
    private readonly opts: HubOptions,
  ) {
    this.logger = opts.logger;
    this.historySize = opts.historySize;
    this.onFirstWrite = opts.onFirstWrite;
  }

  async subscribe(sub: Subscriber, channel: string, o: HubSubscribeOptions): Promise<SubscribeResult> {
    if (this.phase === 'closed') throw new TaskwireError('unavailable', 'the server is shutting down');
    const ch = this.channels.get(channel) ?? this.open(channel);
    if (ch.entries.has(sub)) throw new TaskwireError('bad_request', `already subscribed to ${channel}`);
    const entry: Entry = { sub, phase: 'pending', frames: [], offsets: [], from: 0 };
    ch.add(entry);
    this.subscriptions += 1;
    let mine = this.bySubscriber.get(sub);
    if (!mine) this.bySubscriber.set(sub, (mine = new SmallMap()));
    mine.set(channel, ch);

    try {
      await ch.ready;
    } catch (err) {
      ch.remove(entry);
      throw err;
    }
    if (removed(entry)) throw cancelled();
    const at: Position = { epoch: ch.epoch, offset: ch.offset };
    const parsed = o.snapshot ? parseChannel(channel) : null;
    let read: [{ recovered?: boolean; events: EventFrame[] }, Task | null | undefined];
    try {
      read = await Promise.all([
        readEvents(this.engine, this.opts, channel, at, o),
        parsed?.kind === 'task' ? this.engine.getTask(parsed.id) : Promise.resolve(undefined),
      ]);
    } catch (err) {
      ch.remove(entry);
      if (err instanceof TaskwireError) throw err;
      throw new TaskwireError('unavailable', 'the engine is unavailable', { cause: err });
    }
    if (removed(entry)) throw cancelled();
    entry.from = at.offset;
    const [events, snapshot] = read;
    const result: SubscribeResult = { channel, epoch: at.epoch, offset: at.offset, ...events };
    if (snapshot !== undefined) result.snapshot = snapshot;
    return result;
  }

  activate(sub: Subscriber, channel: string): void {
    const ch = this.channels.get(channel);
    const entry = ch?.entries.get(sub);
    if (ch && entry?.phase === 'pending') ch.activate(entry);
  }

  unsubscribe(sub: Subscriber, channel: string): void {
    const ch = this.channels.get(channel);
    const entry = ch?.entries.get(sub);
    if (ch && entry) ch.remove(entry);
  }

  removeSubscriber(sub: Subscriber): void {
    const mine = this.bySubscriber.get(sub);
    if (!mine) return;
    for (const ch of mine.values()) {
      const entry = ch.entries.get(sub);
      if (entry) ch.remove(entry);
    }
    this.bySubscriber.delete(sub);
  }

  stats(): HubStats {
    return {
      channels: this.channels.size,
      subscriptions: this.subscriptions,
      engineSubscriptions: this.engineSubscriptions,
      eventsIn: this.eventsIn.total,
      eventsOut: this.eventsOut.total,
      eventsInPerSecond: this.eventsIn.perSecond(),
      eventsOutPerSecond: this.eventsOut.perSecond(),
    };
  }

  async close(): Promise<void> {
    this.phase = 'closed';
    for (const ch of Array.from(this.channels.values())) ch.close();
    await Promise.all(Array.from(this.releasing));
  }

  /* ---------- ChannelHost: called by the channels ---------- */

  detached(ch: HubChannel, entry: Entry): void {
    this.subscriptions -= 1;
    const mine = this.bySubscriber.get(entry.sub);
    if (mine?.get(ch.name) === ch) {
      mine.delete(ch.name);
      if (mine.size === 0) this.bySubscriber.delete(entry.sub);
    }
  }

  closed(ch: HubChannel): void {
    if (this.channels.get(ch.name) === ch) this.channels.delete(ch.name);
    this.releaseEngine(ch);
  }

  /* ---------- engine subscriptions ---------- */

  private open(name: string): HubChannel {
    const ch = new HubChannel(name, this);
    this.channels.set(name, ch);
    ch.ready = this.start(ch);
    ch.ready.catch(() => undefined); // awaited by every subscribe(); this only marks it handled
    return ch;
  }

  private async start(ch: HubChannel): Promise<void> {
    try {
      const unsubscribe = await this.engine.subscribe(ch.name, (event) => ch.onEngineEvent(event));
      this.engineSubscriptions += 1;
      ch.unsubscribe = unsubscribe;
      if (ch.current === 'closed') return this.releaseEngine(ch);
      // The engine subscription is live: everything after this position will reach the listener.
      const position = await this.engine.history(ch.name, { limit: 0 });
      ch.started(position);
    } catch (err) {
      this.logger.warn({ err, channel: ch.name }, 'hub: could not open the engine subscription');
      ch.close();
      throw new TaskwireError('unavailable', 'the engine is unavailable', { cause: err });
    }
  }

  private releaseEngine(ch: HubChannel): void {
    const unsubscribe = ch.unsubscribe;
    if (!unsubscribe) return;
    ch.unsubscribe = null;
    this.engineSubscriptions -= 1;
    const done: Promise<void> = unsubscribe()
      .catch((err: unknown) => this.logger.warn({ err, channel: ch.name }, 'hub: engine unsubscribe failed'))
      .finally(() => this.releasing.delete(done));
    this.releasing.add(done);
  }
}

export function createHub(engine: Engine, opts: HubOptions): Hub {
  return new DefaultHub(engine, opts);
}
