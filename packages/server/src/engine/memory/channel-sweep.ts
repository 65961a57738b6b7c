/**
 * The memory engine's bounded channel sweep, run on every write: trim a channel or a
 * few by age, and forget channels that retain nothing, have no listener and were idle
 * for a whole TTL, so the channel map cannot grow for ever. A forgotten channel comes
 * back with a new epoch, which clients handle like every other epoch change
 * (recovered: false).
 */
import type { EngineLimits } from '../types.js';
import type { ChannelLog } from './channel-log.js';

/**
 * Channels examined for age trimming and eviction: one per write, plus four for every
 * channel created (taken by the next writes, at most `SWEEP_MAX` per write), so the
 * sweep outpaces creation and the channel map stays bounded, while a write to a busy
 * node touches one other channel, not four.
 */
const SWEEP_PER_WRITE = 1;
const SWEEP_PER_NEW_CHANNEL = 4;
const SWEEP_MAX = 8;

export class ChannelSweep {
  private cursor: Iterator<ChannelLog> | null = null;
  /** Channels owed to the sweep by channel creation (see SWEEP_PER_NEW_CHANNEL). */
  private due = 0;

  /** A channel was created. */
  created(): void {
    this.due += SWEEP_PER_NEW_CHANNEL;
  }

  run(
    channels: Map<string, ChannelLog>,
    limits: EngineLimits,
    now: number,
    listened: (channel: string) => boolean,
  ): void {
    const extra = Math.min(this.due, SWEEP_MAX - SWEEP_PER_WRITE);
    this.due -= extra;
    for (let i = 0; i < SWEEP_PER_WRITE + extra && channels.size > 0; i++) {
      this.cursor ??= channels.values();
      const step = this.cursor.next();
      if (step.done) {
        this.cursor = null;
        continue;
      }
      const log = step.value;
      log.trim(limits.historySize, limits.historyTtlMs, now);
      const idle = now - log.touchedAt >= limits.historyTtlMs;
      if (log.retained === 0 && idle && !listened(log.channel)) channels.delete(log.channel);
    }
  }
}
