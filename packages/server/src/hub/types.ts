import type { Position, SubscribeResult, UnsubscribeReason } from '@taskwire/protocol';
import type { EncodedEvent } from './encoded-event.js';

export type { EncodedEvent };

/**
 * A local receiver of channel events: a WebSocket connection, an SSE stream, a
 * long-poll request. The Hub never knows which.
 */
export interface Subscriber {
  readonly id: string;
  /** One encoded event (`{"type":"event",…}`), the same bytes for every subscriber. Must not throw. */
  deliver(channel: string, event: EncodedEvent, offset: number): void;
  /** The Hub ended this subscription (gap it could not fill, channel gone, task deleted: `reason`). */
  ended(
    channel: string,
    info: {
      code: 'unavailable' | 'forbidden' | 'not_found' | 'internal';
      message: string;
      resubscribe: boolean;
      reason?: UnsubscribeReason;
    },
  ): void;
}

export interface HubSubscribeOptions {
  since?: Position;
  /** Without `since`: how many latest events to include. */
  history?: number;
  /** Include the task snapshot (for `task:` channels). */
  snapshot: boolean;
}

export interface HubStats {
  channels: number;
  subscriptions: number;
  engineSubscriptions: number;
  eventsIn: number;
  eventsOut: number;
  eventsInPerSecond: number;
  eventsOutPerSecond: number;
}

export interface Hub {
  /**
   * Gapless subscribe: after the Promise resolves the subscriber is `pending`; the
   * caller sends its reply, then calls `activate()` synchronously, which delivers
   * every buffered event with an offset above `result.offset`, then live ones.
   * Throws TaskwireError (`unavailable` when the engine fails).
   */
  subscribe(sub: Subscriber, channel: string, opts: HubSubscribeOptions): Promise<SubscribeResult>;
  activate(sub: Subscriber, channel: string): void;
  unsubscribe(sub: Subscriber, channel: string): void;
  /** Remove every subscription of this subscriber (idempotent). */
  removeSubscriber(sub: Subscriber): void;
  stats(): HubStats;
  close(): Promise<void>;
}

/** The transports a client connects with. */
export type Transport = 'ws' | 'sse' | 'longpoll';

/** One integer per transport. */
export type TransportCounts = Record<Transport, number>;
