/**
 * Channel logs in SQLite: positions (epoch, top offset) in `channels`, events in
 * `events`, keyed (channel, offset). Retention only ever deletes a prefix of a
 * channel's log (everything at or below a cut), so retained offsets stay
 * contiguous; reads also hide what retention is due to delete, so a read between
 * two sweeps answers exactly as if the sweep had just run.
 */
import { freezeDeep } from '@taskwire/protocol';
import { newEpoch } from '../../util/random-id.js';
import { toCount, type Statements } from './statements.js';
import type {
  EngineLimits,
  HistoryRequest,
  HistoryResult,
  PublishRequest,
  PublishResult,
  StoredEvent,
} from '../types.js';

/** A channel's position, as read at the start of a write and advanced by it. */
export interface ChannelPosition {
  epoch: string;
  top: number;
}

function serializeData(data: unknown): string {
  // JSON.stringify(undefined) is undefined: store it as null, as JSON would.
  return JSON.stringify(data) ?? 'null';
}

/** An event read back: its data parsed from the stored JSON text, which it keeps (the Hub sends it as it is). */
export function eventOf(channel: string, epoch: string, offset: number, time: number, json: string): StoredEvent {
  return storedEvent(channel, epoch, offset, time, freezeDeep(JSON.parse(json) as unknown), json);
}

/** The record of a publish kept under its idempotency key, and the event read back from it. */
function positionRecord(e: StoredEvent): string {
  return JSON.stringify({ channel: e.channel, epoch: e.epoch, offset: e.offset, time: e.time, data: e.data });
}

function eventOfRecord(record: string): StoredEvent {
  const e = JSON.parse(record) as Omit<StoredEvent, 'json'>;
  return eventOf(e.channel, e.epoch, e.offset, e.time, serializeData(e.data));
}

function storedEvent(
  channel: string,
  epoch: string,
  offset: number,
  time: number,
  data: unknown,
  json: string,
): StoredEvent {
  return Object.freeze({ channel, epoch, offset, time, data, json });
}

/** The channel's position, creating it with a fresh random epoch when it is new. */
export function position(st: Statements, channel: string, now: number): ChannelPosition {
  const row = st.getChannel.get(channel);
  if (row) return row;
  st.insertChannel.run(channel, newEpoch(), now);
  const created = st.getChannel.get(channel);
  if (!created) throw new Error(`channel ${channel} could not be created`);
  return created;
}

/**
 * Appends events across channels inside the caller's transaction: offsets are
 * consecutive per channel; `finish()` records the new tops and trims each channel
 * written (bounded: only rows below the count window or past the age limit).
 */
export class ChannelWriter {
  private readonly touched = new Map<string, ChannelPosition>();

  constructor(
    private readonly st: Statements,
    private readonly limits: EngineLimits,
    private readonly now: number,
  ) {}

  /**
   * Append one event. Given its JSON (the task service's snapshot events), `data` is
   * kept as it is (frozen); otherwise the event gets a copy of `data` made from its JSON.
   */
  append(channel: string, data: unknown, json?: string): StoredEvent {
    let pos = this.touched.get(channel);
    if (!pos) {
      pos = { ...position(this.st, channel, this.now) };
      this.touched.set(channel, pos);
    }
    pos.top += 1;
    const text = json ?? serializeData(data);
    this.st.insertEvent.run(channel, pos.top, this.now, text);
    return json === undefined
      ? eventOf(channel, pos.epoch, pos.top, this.now, text)
      : storedEvent(channel, pos.epoch, pos.top, this.now, freezeDeep(data), text);
  }

  finish(): void {
    for (const [channel, pos] of this.touched) {
      this.st.setChannelTop.run(pos.top, this.now, channel);
      trim(this.st, this.limits, channel, pos.top, this.now);
    }
  }
}

const publishKey = (channel: string, key: string): string => `p\n${channel}\n${key}`;

/**
 * A publish, inside the caller's write transaction: a repeated idempotency key
 * answers the first publish's event (read back from its record) and appends nothing;
 * otherwise the event is appended and the key remembered for `idempotencyTtlMs`.
 */
export function publishEvent(st: Statements, limits: EngineLimits, req: PublishRequest, now: number): PublishResult {
  const keyId = req.idempotencyKey === undefined ? null : publishKey(req.channel, req.idempotencyKey);
  if (keyId !== null) {
    const first = st.getKey.get(keyId, now);
    if (first !== undefined) return { event: eventOfRecord(first), duplicate: true };
  }
  const writer = new ChannelWriter(st, limits, now);
  const event = writer.append(req.channel, req.data, req.json);
  writer.finish();
  if (keyId !== null) st.putKey.run(keyId, positionRecord(event), now + limits.idempotencyTtlMs);
  return { event, duplicate: false };
}

/**
 * The lowest offset still visible: above the count window, and from the first event
 * younger than the age limit on (a prefix of old events is hidden; `top + 1` when
 * nothing is visible).
 */
function firstVisible(st: Statements, limits: EngineLimits, channel: string, top: number, now: number): number {
  const below = Math.max(0, top - limits.historySize);
  return st.firstLive.get(channel, below, now - limits.historyTtlMs) ?? top + 1;
}

function trim(st: Statements, limits: EngineLimits, channel: string, top: number, now: number): void {
  const first = firstVisible(st, limits, channel, top, now);
  if (first > 1) st.trimThrough.run(channel, first - 1);
}

export function readHistory(
  st: Statements,
  limits: EngineLimits,
  channel: string,
  req: HistoryRequest,
  now: number,
): HistoryResult {
  const { epoch, top } = position(st, channel, now);
  const limit = toCount(req.limit);
  const first = firstVisible(st, limits, channel, top, now);
  const read = (from: number): StoredEvent[] =>
    limit === 0
      ? []
      : st.eventsFrom.all(channel, from, limit).map((r) => eventOf(channel, epoch, r.offset, r.time, r.data));
  if (!req.since) {
    return { epoch, offset: top, recovered: true, events: read(Math.max(first, top - limit + 1)) };
  }
  const since = req.since;
  const lost = { epoch, offset: top, recovered: false, events: [] };
  // All or nothing: another epoch, a position never reached, or a gap already trimmed.
  if (since.epoch !== epoch || since.offset > top || since.offset < 0 || since.offset + 1 < first) return lost;
  const events = read(since.offset + 1);
  // Retention deletes prefixes only, so this holds; checking it keeps a damaged log from replaying a gap.
  const gapless =
    events.every((ev, i) => ev.offset === since.offset + 1 + i) &&
    (events.length > 0 || limit === 0 || since.offset === top);
  return gapless ? { epoch, offset: top, recovered: true, events } : lost;
}
