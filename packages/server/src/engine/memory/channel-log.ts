import { freezeDeep } from '@taskwire/protocol';
import { newEpoch } from '../../util/random-id.js';
import type { HistoryRequest, HistoryResult, StoredEvent } from '../types.js';

// Shared by every log with nothing retained; never written (append replaces them first).
const NO_TIMES: number[] = [];
const NO_TEXTS: string[] = [];
const NO_DATA: unknown[] = [];

/**
 * One channel's retained events with its position. Offsets are contiguous, so the
 * event with offset `o` sits at index `o - firstOffset` past `head`: lookups are
 * O(1) and trimming only moves `head` (the arrays are compacted now and then).
 *
 * An event is kept as its time and the JSON text of its data, nothing else: a long
 * history is a few strings for the garbage collector, not object graphs. Its data is
 * parsed (and frozen) the first time the event is read, and kept for later reads
 * (a recovery storm reads the same events many times).
 */
export class ChannelLog {
  readonly epoch = newEpoch();
  /** Offset of the newest event ever appended (0 when none). */
  top = 0;
  /** Last time the channel was written or read, for eviction of idle empty channels. */
  touchedAt: number;
  // Allocated by the first append: a channel that is only watched holds no arrays.
  private times: number[] = NO_TIMES;
  private texts: string[] = NO_TEXTS;
  /** Data parsed by a read, by index (undefined: not read yet). */
  private parsed: unknown[] = NO_DATA;
  private head = 0;

  constructor(
    readonly channel: string,
    now: number,
  ) {
    this.touchedAt = now;
  }

  get retained(): number {
    return this.texts.length - this.head;
  }

  /** Offset of the oldest retained event; `top + 1` when none is retained. */
  private get firstOffset(): number {
    return this.top - this.retained + 1;
  }

  /** Append an event: `json` is the JSON text of `data`; `data` goes to live listeners only. */
  append(data: unknown, json: string, now: number): StoredEvent {
    this.touchedAt = now;
    this.top += 1;
    if (this.texts === NO_TEXTS) {
      this.times = [];
      this.texts = [];
      this.parsed = [];
    }
    this.times.push(now);
    this.texts.push(json);
    return Object.freeze({ channel: this.channel, epoch: this.epoch, offset: this.top, time: now, data, json });
  }

  /** Drop events beyond `size` or older than `ttlMs`. */
  trim(size: number, ttlMs: number, now: number): void {
    let drop = Math.max(0, this.retained - size);
    while (drop < this.retained) {
      if ((this.times[this.head + drop] as number) + ttlMs > now) break;
      drop += 1;
    }
    if (drop === 0) return;
    this.head += drop;
    if (this.head === this.texts.length) {
      this.times = NO_TIMES;
      this.texts = NO_TEXTS;
      this.parsed = NO_DATA;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.texts.length) {
      this.times = this.times.slice(this.head);
      this.texts = this.texts.slice(this.head);
      this.parsed = this.parsed.slice(this.head);
      this.head = 0;
    }
  }

  history(req: HistoryRequest, now: number): HistoryResult {
    this.touchedAt = now;
    const limit = Math.max(0, Math.floor(req.limit));
    const position = { epoch: this.epoch, offset: this.top };
    if (!req.since) {
      const count = Math.min(limit, this.retained);
      return { ...position, recovered: true, events: this.read(this.texts.length - count, this.texts.length) };
    }
    const { epoch, offset } = req.since;
    // All or nothing: another epoch, a position we never reached, or a gap already trimmed.
    if (epoch !== this.epoch || offset > this.top || offset + 1 < this.firstOffset) {
      return { ...position, recovered: false, events: [] };
    }
    const start = this.head + (offset + 1 - this.firstOffset);
    return { ...position, recovered: true, events: this.read(start, Math.min(start + limit, this.texts.length)) };
  }

  /** The events at indexes [from, to), their data parsed once and kept. */
  private read(from: number, to: number): StoredEvent[] {
    const events: StoredEvent[] = [];
    const offset0 = this.firstOffset - this.head;
    for (let i = from; i < to; i++) {
      const json = this.texts[i] as string;
      let data = this.parsed[i];
      if (data === undefined) this.parsed[i] = data = freezeDeep(JSON.parse(json) as unknown);
      const time = this.times[i] as number;
      events.push(Object.freeze({ channel: this.channel, epoch: this.epoch, offset: offset0 + i, time, data, json }));
    }
    return events;
  }
}
