/**
 * Reconnect delays: exponential with full jitter (the AWS architecture blog's
 * "Exponential Backoff And Jitter"), so a fleet of clients dropped by one deploy
 * does not come back in lockstep. A floor of `minMs` keeps a client out of a tight
 * loop even when the random draw is 0.
 */
export interface BackoffOptions {
  /** First delay ceiling and the floor of every delay, ms. @default 500 */
  minMs: number;
  /** Largest delay, ms. @default 30000 */
  maxMs: number;
  /** Floor for codes that ask to wait long (4008, 4029, 1013), ms. @default 5000 */
  longMinMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 500, maxMs: 30_000, longMinMs: 5_000 };

/** How long a connection must stay up before the attempt counter resets, ms. */
export const STABLE_AFTER_MS = 10_000;

/**
 * The top of the window reconnect attempt number `attempt` (1 = the first retry)
 * draws its delay from: min(maxMs, floor × 2^attempt), where floor is `minMs`, or
 * `longMinMs` when `long` (never above `maxMs`). With the defaults attempt 1 waits at
 * most 1 s, attempt 2 at most 2 s, … up to 30 s. For "next attempt within N s"
 * indicators; `long` is `wantsLongBackoff(code)` of the close code.
 */
export function backoffCeiling(attempt: number, long: boolean, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  const floor = backoffFloor(long, opts);
  // Cap the exponent: 2 ** 31 is already far past any sane maxMs.
  const step = Math.min(Math.max(attempt, 1) - 1, 31);
  return Math.max(floor, Math.min(opts.maxMs, floor * 2 ** (step + 1)));
}

/**
 * The delay before reconnect attempt number `attempt` (1 = the first retry).
 * Drawn uniformly from [floor, backoffCeiling(attempt, long, opts)], where floor is
 * `minMs`, or `longMinMs` when `long`: attempt 1 waits 0.5-1 s, attempt 2 0.5-2 s, …
 */
export function backoffDelay(
  attempt: number,
  long: boolean,
  opts: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const floor = backoffFloor(long, opts);
  return Math.round(floor + random() * (backoffCeiling(attempt, long, opts) - floor));
}

/** The floor of every delay: `minMs`, or `longMinMs` when `long`, never above `maxMs`. */
function backoffFloor(long: boolean, opts: BackoffOptions): number {
  return Math.min(long ? opts.longMinMs : opts.minMs, opts.maxMs);
}
