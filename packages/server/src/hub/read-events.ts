/**
 * The events of a subscribe reply, read from the engine relative to `at` (the
 * subscriber's registration position in the Hub): with `since`, all or nothing
 * within the recovery limit; without, the `history` latest.
 */
import type { EventFrame, Position } from '@taskwire/protocol';
import type { Engine, StoredEvent } from '../engine/types.js';
import type { HubSubscribeOptions } from './types.js';

export interface ReadLimits {
  recoveryLimit: number;
  historySize: number;
}

function toFrame(e: StoredEvent): EventFrame {
  return { type: 'event', channel: e.channel, epoch: e.epoch, offset: e.offset, time: e.time, data: e.data };
}

export async function readEvents(
  engine: Engine,
  limits: ReadLimits,
  name: string,
  at: Position,
  o: HubSubscribeOptions,
): Promise<{ recovered?: boolean; events: EventFrame[] }> {
  if (o.since) {
    const { since } = o;
    const missed = at.offset - since.offset;
    if (since.epoch !== at.epoch || missed < 0 || missed > limits.recoveryLimit)
      return { recovered: false, events: [] };
    if (missed === 0) return { recovered: true, events: [] };
    const h = await engine.history(name, { since, limit: missed });
    const ok =
      h.recovered && h.epoch === at.epoch && h.events.length === missed && h.events[0]?.offset === since.offset + 1;
    return ok ? { recovered: true, events: h.events.map(toFrame) } : { recovered: false, events: [] };
  }
  const n = Math.min(o.history ?? 0, limits.historySize, at.offset);
  if (n <= 0) return { events: [] };
  const h = await engine.history(name, { since: { epoch: at.epoch, offset: at.offset - n }, limit: n });
  if (h.recovered && h.epoch === at.epoch) return { events: h.events.map(toFrame) };
  // Part of it was trimmed: the latest retained ones up to `at`.
  const latest = await engine.history(name, { limit: n });
  return { events: latest.events.filter((e) => e.epoch === at.epoch && e.offset <= at.offset).map(toFrame) };
}
