/**
 * In-process delivery of committed events to this process's listeners, with the
 * guarantees of the memory engine: each channel's events reach every listener in
 * offset order; a listener that throws is reported and skipped, never breaking the
 * commit or starving the others; an event appended from inside a listener is
 * queued and delivered after the current one, never mid-loop; a listener added
 * while an event is being delivered does not receive that event.
 */
import type { EventListener, StoredEvent } from './types.js';

interface Subscription {
  listener: EventListener;
  active: boolean;
}

export class LocalFanout {
  private readonly listeners = new Map<string, Subscription[]>();
  private subscriptionCount = 0;
  /** Events waiting for delivery, each with the listeners subscribed when it was committed. */
  private readonly outbox: Array<{ event: StoredEvent; subs: Subscription[] }> = [];
  private delivering = false;

  constructor(private readonly onListenerError: (err: unknown, channel: string) => void) {}

  /** Live listeners, all channels. */
  get size(): number {
    return this.subscriptionCount;
  }

  /** True while at least one listener is on `channel`. */
  has(channel: string): boolean {
    return this.listeners.has(channel);
  }

  /** Add a listener; the returned function removes it (idempotent; the engine's `Unsubscribe`). */
  subscribe(channel: string, listener: EventListener): () => Promise<void> {
    const sub: Subscription = { listener, active: true };
    // Copy on write: a queued event holds the old array, so it never reaches the new listener.
    this.listeners.set(channel, [...(this.listeners.get(channel) ?? []), sub]);
    this.subscriptionCount += 1;
    return () => {
      this.remove(channel, sub);
      return Promise.resolve();
    };
  }

  private remove(channel: string, sub: Subscription): void {
    if (!sub.active) return;
    sub.active = false;
    this.subscriptionCount -= 1;
    const rest = (this.listeners.get(channel) ?? []).filter((s) => s !== sub);
    if (rest.length > 0) this.listeners.set(channel, rest);
    else this.listeners.delete(channel);
  }

  /**
   * Deliver events that were just committed, in the order given. Call it after the
   * transaction commits, never inside it. Re-entrant calls only queue.
   */
  deliver(events: readonly StoredEvent[]): void {
    for (const event of events) {
      const subs = this.listeners.get(event.channel);
      if (subs && subs.length > 0) this.outbox.push({ event, subs });
    }
    if (this.outbox.length === 0 || this.delivering) return;
    this.delivering = true;
    try {
      // Delivering may queue more (a listener that commits): the loop takes them in order.
      for (let i = 0; i < this.outbox.length; i++) {
        const { event, subs } = this.outbox[i] as { event: StoredEvent; subs: Subscription[] };
        for (const sub of subs) {
          if (!sub.active) continue;
          try {
            sub.listener(event);
          } catch (err) {
            this.report(err, event.channel);
          }
        }
      }
    } finally {
      this.outbox.length = 0;
      this.delivering = false;
    }
  }

  /** Drop every listener and queued event (close). */
  clear(): void {
    for (const subs of this.listeners.values()) for (const sub of subs) sub.active = false;
    this.listeners.clear();
    this.subscriptionCount = 0;
    this.outbox.length = 0;
  }

  private report(err: unknown, channel: string): void {
    try {
      this.onListenerError(err, channel);
    } catch {
      // The error reporter itself failed: nothing sensible is left to do with it.
    }
  }
}
