/**
 * The leader's multiplexer for one channel: many tabs, one server subscription.
 * A pure transition function, `muxStep(entry, input)` → the next entry and the
 * effects for the runner (./channels.ts) to carry out; no I/O, no timers.
 *
 * Every tab keeps its own Subscription (its position, dedup, gap detection and
 * snapshot, exactly as without sharing); the entry only decides what the one
 * server subscription does and what each tab is answered:
 *
 * - Ref counting: the entry lives while a tab wants the channel (`live` tabs were
 *   answered and receive its events; `queue` tabs wait for an answer). The server
 *   subscription starts with the first tab and ends with the last (`unsubscribe`,
 *   `end`).
 * - The cache: the position of the last event applied, the latest events after
 *   `from` (contiguous, up to `capacity`) and, on task channels, the snapshot
 *   (seeded by the tabs' own snapshots, kept newest by the version rule). A tab is
 *   answered from it when that is exactly what the server would say: its `since`
 *   inside the buffer, or a fresh subscribe the buffer and snapshot can answer.
 * - Rounds: otherwise the server is asked (after an `unsubscribe` when the channel
 *   is subscribed: the protocol allows one subscription per channel), with `since`
 *   = the oldest position waiting, or fresh with the largest `history` waiting. The
 *   requests the round was for get the server's answer itself, so every round
 *   settles at least one request and the queue always drains.
 * - Live tabs across a round: it replays from at or before their position, so the
 *   events after it reach them (their Subscriptions drop what they already have).
 *   When the server's answer cannot be joined to their position (`recovered:
 *   false`, or a fresh answer beyond the buffer) they get `unsubscribed` with
 *   `resubscribe: true` and ask again with their own `since`.
 */
import type { EventFrame, Position, SubscribeResult, UnsubscribedFrame } from '@taskwire/protocol';
import {
  cacheAfter,
  eventTask,
  newest,
  samePos,
  serve,
  type Entry,
  type MuxOutcome,
  type Round,
  type TabRequest,
} from './entry.js';
import type { TabId, WireError } from './protocol.js';

export type MuxInput =
  | { type: 'want'; req: TabRequest }
  | { type: 'drop'; tab: TabId }
  | { type: 'reply'; seq: number; outcome: MuxOutcome }
  | { type: 'event'; event: EventFrame }
  | { type: 'unsubscribed'; frame: UnsubscribedFrame };

export type MuxEffect =
  /** Ask the server (after an `unsubscribe` effect when it is subscribed). The reply comes back as `reply` with `seq`. */
  | { type: 'subscribe'; seq: number; since?: Position; history: number }
  | { type: 'unsubscribe' }
  | { type: 'reply'; tab: TabId; id: number; outcome: MuxOutcome }
  /** To every tab: the live ones apply it, the others ignore it. */
  | { type: 'event'; event: EventFrame }
  | { type: 'unsubscribed'; tabs: TabId[]; frame: UnsubscribedFrame }
  /** No tab wants the channel any more: forget the entry. */
  | { type: 'end' };

export interface MuxStep {
  entry: Entry | null;
  effects: MuxEffect[];
}

const disconnected: MuxOutcome = { ok: false, error: { code: 'disconnected', message: 'superseded' } };

/** A fresh round's answer for one of its requests: the events it asked for, no more. A replay is the same for all. */
function tailor(result: SubscribeResult, req: TabRequest): SubscribeResult {
  if (result.recovered !== undefined) return result;
  return { ...result, events: req.history > 0 ? result.events.slice(-req.history) : [] };
}

class Stepper {
  readonly effects: MuxEffect[] = [];
  constructor(public e: Entry) {}

  set(patch: Partial<Entry>): void {
    this.e = { ...this.e, ...patch };
  }

  reply(req: TabRequest, outcome: MuxOutcome): void {
    this.effects.push({ type: 'reply', tab: req.tab, id: req.id, outcome });
  }

  /** Remove a tab everywhere; its waiting requests are answered `disconnected` (they are stale). */
  forget(tab: TabId): void {
    const { queue, round, live } = this.e;
    for (const r of queue) if (r.tab === tab) this.reply(r, disconnected);
    if (round) for (const r of round.targets) if (r.tab === tab) this.reply(r, disconnected);
    this.set({
      queue: queue.filter((r) => r.tab !== tab),
      live: live.filter((t) => t !== tab),
      round: round && { ...round, targets: round.targets.filter((r) => r.tab !== tab) },
    });
  }

  /** Nobody left: end the server subscription and the entry. */
  ended(): boolean {
    const { live, queue, round, phase } = this.e;
    if (live.length > 0 || queue.length > 0 || (round && round.targets.length > 0)) return false;
    if (phase !== 'idle') this.effects.push({ type: 'unsubscribe' });
    this.effects.push({ type: 'end' });
    return true;
  }

  /** The server refused (or ended) the subscription: every tab gets the error, and the entry ends. */
  fail(error: WireError, roundInFlight: boolean): void {
    const { queue, round, live, channel } = this.e;
    for (const r of [...(round?.targets ?? []), ...queue]) this.reply(r, { ok: false, error });
    if (live.length > 0) {
      this.effects.push({
        type: 'unsubscribed',
        tabs: [...live],
        frame: {
          type: 'unsubscribed',
          channel,
          code: error.code as UnsubscribedFrame['code'],
          message: error.message,
          resubscribe: false,
        },
      });
    }
    if (roundInFlight) this.effects.push({ type: 'unsubscribe' });
    this.effects.push({ type: 'end' });
  }

  /** Apply a contiguous event to the cache; false if it is not the next one. */
  apply(event: EventFrame): boolean {
    const { pos } = this.e;
    if (!pos || event.epoch !== pos.epoch || event.offset !== pos.offset + 1) return false;
    const next = { epoch: event.epoch, offset: event.offset };
    const buffer = [...this.e.buffer, event];
    this.set({
      pos: next,
      buffer,
      snapshot: this.e.isTask ? newest(this.e.snapshot, eventTask(event)) : this.e.snapshot,
      sent: samePos(this.e.sent, pos) ? next : this.e.sent,
    });
    return true;
  }

  /** Keep the buffer within its capacity. */
  trim(): void {
    const { buffer, capacity, from } = this.e;
    if (buffer.length <= capacity) return;
    const cut = buffer.length - capacity;
    this.set({ buffer: buffer.slice(cut), from: from + cut, whole: false });
  }

  /** Answer what the cache can; start a round for the rest. */
  pump(): void {
    if (this.e.phase === 'requesting') return;
    const waiting: TabRequest[] = [];
    const live = [...this.e.live];
    for (const req of this.e.queue) {
      const result = serve(this.e, req);
      if (!result) waiting.push(req);
      else {
        this.reply(req, { ok: true, result });
        if (!live.includes(req.tab)) live.push(req.tab);
      }
    }
    this.set({ queue: waiting, live, sent: this.e.pos });
    this.trim();
    if (waiting.length > 0) this.startRound(undefined);
  }

  /** Ask the server: for the oldest `since` waiting, else fresh; `resync` is a round for the live tabs alone. */
  startRound(resync: Position | undefined): void {
    const queue = this.e.queue;
    const withSince = queue.filter((r) => r.since);
    let since = resync;
    let history = 0;
    let targets: TabRequest[] = [];
    if (!resync && withSince.length > 0) {
      const epoch = this.e.pos?.epoch ?? withSince[0]?.since?.epoch;
      const same = withSince.filter((r) => r.since?.epoch === epoch);
      const pool = same.length > 0 ? same : withSince.slice(0, 1);
      const min = Math.min(...pool.map((r) => r.since?.offset ?? 0));
      since = { epoch: pool[0]?.since?.epoch ?? '', offset: min };
      targets = pool.filter((r) => r.since?.offset === min);
    } else if (!resync) {
      targets = [...queue];
      history = Math.max(0, ...queue.map((r) => r.history));
    }
    if (this.e.phase !== 'idle') this.effects.push({ type: 'unsubscribe' });
    const seq = this.e.seq + 1;
    this.set({
      phase: 'requesting',
      seq,
      round: { seq, since, history, targets },
      queue: queue.filter((r) => !targets.includes(r)),
    });
    this.effects.push({ type: 'subscribe', seq, ...(since ? { since } : {}), history });
  }

  /** The server answered the round in flight. */
  answered(round: Round, result: SubscribeResult): void {
    const pos = { epoch: result.epoch, offset: result.offset };
    let snapshot = this.e.snapshot;
    if (this.e.isTask) {
      snapshot = newest(snapshot, result.snapshot);
      for (const ev of result.events) snapshot = newest(snapshot, eventTask(ev));
    }
    const cache = cacheAfter(this.e, round, result);
    // The round's own requests get the server's words.
    for (const req of round.targets) this.reply(req, { ok: true, result: tailor(result, req) });
    const answered = round.targets.map((r) => r.tab);
    const sent = this.e.sent;
    const before = this.e.live.filter((t) => !answered.includes(t));
    this.set({ phase: 'live', round: null, pos, snapshot, ...cache });
    // The tabs live before the round: send them what follows their position, or make them ask again.
    let live = before;
    if (before.length > 0 && !samePos(sent, pos)) {
      if (sent && sent.epoch === pos.epoch && sent.offset >= cache.from) {
        for (const ev of cache.buffer) if (ev.offset > sent.offset) this.effects.push({ type: 'event', event: ev });
      } else {
        live = [];
        this.effects.push({
          type: 'unsubscribed',
          tabs: before,
          frame: {
            type: 'unsubscribed',
            channel: this.e.channel,
            code: 'unavailable',
            message: 'the shared subscription was reset',
            resubscribe: true,
          },
        });
      }
    }
    this.set({ live: [...live, ...answered.filter((t) => !live.includes(t))], sent: pos });
    this.pump();
  }
}

/** The transition function. An input for a round no longer in flight is ignored. */
export function muxStep(entry: Entry, input: MuxInput): MuxStep {
  const s = new Stepper(entry);
  switch (input.type) {
    case 'want': {
      const req = input.req;
      s.forget(req.tab);
      s.set({
        queue: [...s.e.queue, req],
        capacity: Math.max(s.e.capacity, req.history),
        snapshot: s.e.isTask && req.since ? newest(s.e.snapshot, req.snapshot) : s.e.snapshot,
      });
      s.pump();
      break;
    }
    case 'drop':
      s.forget(input.tab);
      if (s.ended()) return { entry: null, effects: s.effects };
      break;
    case 'reply': {
      const round = s.e.round;
      if (!round || round.seq !== input.seq) break;
      const outcome = input.outcome;
      if (outcome.ok) {
        s.answered(round, outcome.result);
        break;
      }
      // The connection went away: the runner resets every entry, the tabs resubscribe after the next welcome.
      if (outcome.error.code === 'disconnected' || outcome.error.code === 'timeout') {
        s.set({ phase: 'idle', round: null });
        break;
      }
      s.fail(outcome.error, false);
      return { entry: null, effects: s.effects };
    }
    case 'event': {
      const { pos, phase } = s.e;
      if (!pos || phase === 'idle') break;
      const ev = input.event;
      if (ev.epoch === pos.epoch && ev.offset <= pos.offset) break; // already applied
      if (s.apply(ev)) {
        s.trim();
        s.effects.push({ type: 'event', event: ev });
      } else if (phase === 'live') s.startRound(pos); // a gap or another epoch: ask the server from our position
      break;
    }
    case 'unsubscribed': {
      const { pos, phase } = s.e;
      if (input.frame.resubscribe) {
        if (phase === 'live' && pos) s.startRound(pos);
        break;
      }
      s.fail({ code: input.frame.code, message: input.frame.message }, phase === 'requesting');
      return { entry: null, effects: s.effects };
    }
  }
  return { entry: s.e, effects: s.effects };
}
