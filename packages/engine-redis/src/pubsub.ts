/**
 * The node's broker subscriptions: one Redis (sharded) pub/sub subscription per
 * channel per node, ref-counted over the engine's listeners, on connections that do
 * nothing else. Messages carry the whole event, so delivery needs no read. Events are
 * delivered in offset order per channel; a repeat (same epoch, offset not above the
 * last delivered) is dropped, which makes the catch-up after a reconnect safe.
 */
import type { EngineLog, EventListener, StoredEvent, Unsubscribe } from '@taskwire/server/engine';
import type { Keys } from './keys.js';

/** The logging the engine does: a pino Logger fits, and so does a smaller object. */
export type Log = EngineLog;

/** What the broker needs from a connection: (s)subscribe and (s)unsubscribe one pub/sub channel. */
export interface BrokerTransport {
  subscribe(pubsub: string): Promise<void>;
  unsubscribe(pubsub: string): Promise<void>;
}

/** Events after `since` still retained, or null when they can't be had (then the Hub's gap check decides). */
export type CatchUp = (channel: string, since: { epoch: string; offset: number }) => Promise<StoredEvent[] | null>;

/** Channels caught up in parallel after a reconnect. */
const RESYNC_CONCURRENCY = 16;

interface Listener {
  fn: EventListener;
  active: boolean;
}

interface Entry {
  channel: string;
  pubsub: string;
  /** Copy on write: a delivery in progress keeps iterating the array it started with. */
  listeners: Listener[];
  ready: Promise<void>;
  /** Position of the last event delivered (none yet: epoch null). */
  epoch: string | null;
  offset: number;
}

export class Broker {
  private readonly entries = new Map<string, Entry>();
  private listenerCount = 0;

  constructor(
    private readonly transport: BrokerTransport,
    private readonly keys: Keys,
    private readonly logger: Log,
    private readonly catchUp: CatchUp,
  ) {}

  get subscriptions(): number {
    return this.listenerCount;
  }

  /** Broker subscriptions held (one per channel with listeners). */
  get channels(): number {
    return this.entries.size;
  }

  async subscribe(channel: string, fn: EventListener): Promise<Unsubscribe> {
    for (;;) {
      const entry = this.entries.get(channel) ?? this.open(channel);
      await entry.ready;
      // The last listener may have left (and the broker subscription gone) while we waited.
      if (this.entries.get(channel) !== entry) continue;
      const listener: Listener = { fn, active: true };
      entry.listeners = [...entry.listeners, listener];
      this.listenerCount += 1;
      return () => this.remove(entry, listener);
    }
  }

  /** A message from the transport (`pubsub` is the Redis pub/sub channel). */
  onMessage(pubsub: string, message: string): void {
    const channel = this.keys.channelOfPubsub(pubsub);
    const entry = channel === null ? undefined : this.entries.get(channel);
    if (!entry) return;
    let event: StoredEvent;
    try {
      event = JSON.parse(message) as StoredEvent;
    } catch (err) {
      this.logger.warn({ err, channel }, 'redis engine: dropped a malformed broker message');
      return;
    }
    this.deliver(entry, event);
  }

  /**
   * After the subscriber connection came back (it resubscribes by itself): hand over
   * what each channel missed meanwhile, so a channel that goes quiet afterwards does
   * not leave its clients behind. A channel whose events are gone is left to the Hub,
   * which sees the gap or the new epoch on the next event.
   */
  async resync(): Promise<void> {
    const queue = Array.from(this.entries.values()).filter((e) => e.epoch !== null);
    // A few reads at a time: a node with many channels must not flood Redis as it returns.
    const worker = async (): Promise<void> => {
      for (let entry = queue.shift(); entry; entry = queue.shift()) {
        if (this.entries.get(entry.channel) !== entry || entry.epoch === null) continue;
        try {
          const missed = await this.catchUp(entry.channel, { epoch: entry.epoch, offset: entry.offset });
          for (const event of missed ?? []) this.deliver(entry, event);
        } catch (err) {
          this.logger.warn({ err, channel: entry.channel }, 'redis engine: catch-up after reconnect failed');
        }
      }
    };
    await Promise.all(Array.from({ length: RESYNC_CONCURRENCY }, worker));
  }

  /** Drop every listener (engine close); the connections are closed by the caller. */
  clear(): void {
    for (const entry of this.entries.values()) for (const l of entry.listeners) l.active = false;
    this.entries.clear();
    this.listenerCount = 0;
  }

  private open(channel: string): Entry {
    const pubsub = this.keys.channel(channel).pubsub;
    const entry: Entry = { channel, pubsub, listeners: [], ready: Promise.resolve(), epoch: null, offset: 0 };
    this.entries.set(channel, entry);
    entry.ready = this.transport.subscribe(pubsub).catch((err: unknown) => {
      if (this.entries.get(channel) === entry) this.entries.delete(channel);
      throw err;
    });
    return entry;
  }

  private async remove(entry: Entry, listener: Listener): Promise<void> {
    if (!listener.active) return;
    listener.active = false;
    this.listenerCount -= 1;
    entry.listeners = entry.listeners.filter((l) => l !== listener);
    if (entry.listeners.length > 0 || this.entries.get(entry.channel) !== entry) return;
    this.entries.delete(entry.channel);
    try {
      await this.transport.unsubscribe(entry.pubsub);
    } catch (err) {
      // The connection is down. If it resubscribes this channel on its return, the
      // messages find no entry and are dropped.
      this.logger.debug({ err, channel: entry.channel }, 'redis engine: broker unsubscribe failed');
    }
  }

  private deliver(entry: Entry, event: StoredEvent): void {
    if (entry.epoch === event.epoch && event.offset <= entry.offset) return;
    entry.epoch = event.epoch;
    entry.offset = event.offset;
    for (const listener of entry.listeners) {
      if (!listener.active) continue;
      try {
        listener.fn(event);
      } catch (err) {
        this.logger.error({ err, channel: entry.channel }, 'redis engine: a listener threw');
      }
    }
  }
}
