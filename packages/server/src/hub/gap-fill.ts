/**
 * Filling a gap in a channel's live sequence: the Hub saw offset `n + k` after `n`
 * and reads the `k - 1` missing events from history. All or nothing: the events
 * come back exactly as missing (contiguous, starting right after `since`), or the
 * gap cannot be filled (null) and the channel's subscriptions end with
 * `resubscribe: true`. A gap wider than the history size is never read.
 */
import type { Position } from '@taskwire/protocol';
import type { Engine, StoredEvent } from '../engine/types.js';

export async function readGap(
  engine: Pick<Engine, 'history'>,
  channel: string,
  since: Position,
  missing: number,
  historySize: number,
): Promise<StoredEvent[] | null> {
  if (missing > historySize) return null;
  const h = await engine.history(channel, { since, limit: missing });
  const complete = h.recovered && h.events.length === missing && h.events[0]?.offset === since.offset + 1;
  return complete ? h.events : null;
}
