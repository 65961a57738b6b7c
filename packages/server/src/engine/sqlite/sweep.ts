/**
 * The SQLite engine's periodic cleanup: expired events, idempotency keys and
 * claims, and idle channels that retain nothing. Each statement deletes at most
 * `batch` rows and the sweep yields to the event loop between statements, so it
 * never holds the loop (or the write lock) for long. Reads already hide expired
 * rows, so a late or skipped sweep costs disk space, never correctness.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Statements } from './statements.js';
import type { EngineLimits } from '../types.js';

export interface SweepResult {
  events: number;
  idempotencyKeys: number;
  claims: number;
  channels: number;
}

export interface SweepContext {
  st: Statements;
  limits: EngineLimits;
  now: () => number;
  /** Rows per statement. */
  batch: number;
  /** False once the engine closed: the sweep stops at the next batch. */
  isOpen: () => boolean;
  /** Channels with a listener in this process are kept (their subscribers hold the epoch). */
  isListened: (channel: string) => boolean;
  /** Run `fn` in one write transaction. */
  transaction: (fn: () => void) => void;
}

/** Run `step` until it deletes fewer than a full batch, yielding between batches. */
async function drain(ctx: SweepContext, step: () => number): Promise<number> {
  let total = 0;
  while (ctx.isOpen()) {
    const deleted = step();
    total += deleted;
    if (deleted < ctx.batch) break;
    await yieldToLoop();
  }
  return total;
}

export async function sweep(ctx: SweepContext): Promise<SweepResult> {
  const { st, limits, batch } = ctx;
  const result: SweepResult = { events: 0, idempotencyKeys: 0, claims: 0, channels: 0 };
  result.events = await drain(ctx, () => st.sweepEvents.run(ctx.now() - limits.historyTtlMs, batch).changes);
  result.idempotencyKeys = await drain(ctx, () => st.sweepKeys.run(ctx.now(), batch).changes);
  result.claims = await drain(ctx, () => st.sweepClaims.run(ctx.now(), batch).changes);
  result.channels = await forgetIdleChannels(ctx);
  if (ctx.isOpen()) st.vacuum.run();
  return result;
}

/**
 * Forget channels untouched for a whole history TTL that retain no event and have
 * no listener here. One that comes back gets a new epoch, which clients handle as
 * any epoch change (recovered: false): its events were gone anyway.
 */
async function forgetIdleChannels(ctx: SweepContext): Promise<number> {
  const { st, batch } = ctx;
  const cutoff = ctx.now() - ctx.limits.historyTtlMs;
  let forgotten = 0;
  let after = { touchedAt: Number.MIN_SAFE_INTEGER, name: '' };
  while (ctx.isOpen()) {
    const rows = st.idleChannels.all(cutoff, after.touchedAt, after.name, batch);
    ctx.transaction(() => {
      for (const row of rows) {
        if (!ctx.isListened(row.name)) forgotten += st.forgetChannel.run({ name: row.name, cutoff }).changes;
      }
    });
    const last = rows.at(-1);
    if (!last || rows.length < batch) break;
    after = last;
    await yieldToLoop();
  }
  return forgotten;
}
