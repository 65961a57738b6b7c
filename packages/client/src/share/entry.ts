/**
 * One channel's entry in the leader's mux (./mux.ts): its state, and the cache
 * that answers tabs without asking the server (`serve`) and is rebuilt from every
 * server reply (`cacheAfter`). Pure functions of plain values.
 */
import {
  isTaskEventData,
  parseChannel,
  type EventFrame,
  type Position,
  type SubscribeResult,
  type Task,
} from '@taskwire/protocol';
import { isNewer } from '../tasks.js';
import type { TabId, WireError } from './protocol.js';

/** Events kept per channel at least (more when a tab asks for more `history`). */
export const BUFFER_EVENTS = 128;

export interface TabRequest {
  tab: TabId;
  /** The tab's request id, echoed in its reply. */
  id: number;
  since?: Position | undefined;
  history: number;
  /** Task channels: the tab's snapshot, which seeds the cache. */
  snapshot?: Task | null | undefined;
}

export type MuxOutcome = { ok: true; result: SubscribeResult } | { ok: false; error: WireError };

export type Phase = 'idle' | 'requesting' | 'live';

export interface Round {
  readonly seq: number;
  readonly since: Position | undefined;
  readonly history: number;
  /** Answered with the server's reply itself. */
  readonly targets: readonly TabRequest[];
}

export interface Entry {
  readonly channel: string;
  readonly isTask: boolean;
  /** `idle`: no server subscription; `requesting`: a round is in flight; `live`: subscribed. */
  readonly phase: Phase;
  readonly round: Round | null;
  readonly seq: number;
  /** The last event applied (or the last reply's position); null before the first reply. */
  readonly pos: Position | null;
  /** The buffer holds exactly the events after offset `from` up to `pos`. */
  readonly from: number;
  readonly buffer: readonly EventFrame[];
  /** The buffer starts at the oldest event the server has (a fresh reply gave fewer than asked). */
  readonly whole: boolean;
  readonly capacity: number;
  readonly snapshot: Task | null | undefined;
  readonly live: readonly TabId[];
  readonly queue: readonly TabRequest[];
  /** Where the live tabs are: every event up to here has been sent to them. */
  readonly sent: Position | null;
}

export function createEntry(channel: string): Entry {
  return {
    channel,
    isTask: parseChannel(channel)?.kind === 'task',
    phase: 'idle',
    round: null,
    seq: 0,
    pos: null,
    from: 0,
    buffer: [],
    whole: false,
    capacity: BUFFER_EVENTS,
    snapshot: undefined,
    live: [],
    queue: [],
    sent: null,
  };
}

export const samePos = (a: Position | null, b: Position | null): boolean =>
  !!a && !!b && a.epoch === b.epoch && a.offset === b.offset;

/** The version rule, with null (not created yet) never replacing a task. */
export function newest(held: Task | null | undefined, next: Task | null | undefined): Task | null | undefined {
  if (next === undefined) return held;
  if (next === null) return held === undefined ? null : held;
  return isNewer(next, held) ? next : held;
}

export function eventTask(event: EventFrame): Task | undefined {
  const data = event.data;
  return isTaskEventData(data) && (data.kind === 'task.created' || data.kind === 'task.updated')
    ? data.task
    : undefined;
}

/** The answer the cache gives `req`, exactly what the server would say; undefined if it cannot. */
export function serve(e: Entry, req: TabRequest): SubscribeResult | undefined {
  const pos = e.pos;
  if (e.phase !== 'live' || !pos) return undefined;
  const base = { channel: e.channel, epoch: pos.epoch, offset: pos.offset };
  const since = req.since;
  if (since && since.epoch === pos.epoch) {
    if (since.offset < e.from) return undefined;
    return { ...base, recovered: true, events: e.buffer.filter((ev) => ev.offset > since.offset) };
  }
  if (e.isTask && e.snapshot === undefined) return undefined;
  const snapshot = e.isTask ? { snapshot: e.snapshot ?? null } : {};
  if (since) return { ...base, recovered: false, events: [], ...snapshot };
  if (req.history > e.buffer.length && !e.whole) return undefined;
  return { ...base, events: req.history > 0 ? e.buffer.slice(-req.history) : [], ...snapshot };
}

/** The cache after a reply: the events kept are those that join up exactly to its position. */
export function cacheAfter(e: Entry, round: Round, result: SubscribeResult): Pick<Entry, 'from' | 'buffer' | 'whole'> {
  const { events, offset } = result;
  const first = events[0];
  const last = events.at(-1);
  const none = { from: offset, buffer: [], whole: false };
  if (last && first && (last.offset !== offset || last.offset - first.offset !== events.length - 1)) return none;
  if (result.recovered === undefined) {
    return { from: first ? first.offset - 1 : offset, buffer: events, whole: round.history > events.length };
  }
  const start = round.since?.offset;
  if (!result.recovered || start === undefined || (first ? first.offset !== start + 1 : start !== offset)) return none;
  // A replay from inside the buffer continues it.
  const { pos, from, buffer, whole } = e;
  if (pos && pos.epoch === result.epoch && from <= start && start <= pos.offset) {
    return { from, buffer: [...buffer.filter((ev) => ev.offset <= start), ...events], whole };
  }
  return { from: start, buffer: events, whole: false };
}
