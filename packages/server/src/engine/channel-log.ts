import { randomBytes } from 'node:crypto';
import type { HistoryRequest, HistoryResult, StoredEvent } from './types.js';

const EPOCH_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A fresh random epoch: 12 characters of [A-Za-z0-9] (a subset of the protocol's [A-Za-z0-9_-]). */
export function newEpoch(): string {
  let out = '';
  while (out.length < 12) {
    for (const byte of randomBytes(16)) {
      // 248 = 4 × 62: rejecting bytes above it keeps the characters uniform.
      if (byte < 248 && out.length < 12) out += EPOCH_ALPHABET[byte % 62];
    }
  }
  return out;
}

/**
 * One channel's retained events with its position. Offsets are contiguous, so the
 * event with offset `o` sits at index `o - firstOffset` past `head`: lookups are
 * O(1) and trimming only moves `head` (the array is compacted now and then).
 */
export class ChannelLog {
  readonly epoch = newEpoch();
  /** Offset of the newest event ever appended (0 when none). */
  top = 0;
  /** Last time the channel was written or read, for eviction of idle empty channels. */
  touchedAt: number;
  private items: StoredEvent[] = [];
  private head = 0;

  constructor(
    readonly channel: string,
    now: number,
  ) {
    this.touchedAt = now;
  }

  get retained(): number {
    return this.items.length - this.head;
  }

  /** Offset of the oldest retained event; `top + 1` when none is retained. */
  private get firstOffset(): number {
    return this.top - this.retained + 1;
  }

  append(data: unknown, now: number): StoredEvent {
    this.touchedAt = now;
    this.top += 1;
    const event: StoredEvent = Object.freeze({
      channel: this.channel,
      epoch: this.epoch,
      offset: this.top,
      time: now,
      data,
    });
    this.items.push(event);
    return event;
  }

  /** Drop events beyond `size` or older than `ttlMs`. */
  trim(size: number, ttlMs: number, now: number): void {
    let drop = Math.max(0, this.retained - size);
    while (drop < this.retained) {
      const event = this.items[this.head + drop] as StoredEvent;
      if (event.time + ttlMs > now) break;
      drop += 1;
    }
    if (drop === 0) return;
    this.head += drop;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  history(req: HistoryRequest, now: number): HistoryResult {
    this.touchedAt = now;
    const limit = Math.max(0, Math.floor(req.limit));
    const position = { epoch: this.epoch, offset: this.top };
    if (!req.since) {
      const count = Math.min(limit, this.retained);
      return { ...position, recovered: true, events: this.items.slice(this.items.length - count) };
    }
    const { epoch, offset } = req.since;
    // All or nothing: another epoch, a position we never reached, or a gap already trimmed.
    if (epoch !== this.epoch || offset > this.top || offset + 1 < this.firstOffset) {
      return { ...position, recovered: false, events: [] };
    }
    const start = this.head + (offset + 1 - this.firstOffset);
    return { ...position, recovered: true, events: this.items.slice(start, start + limit) };
  }
}
