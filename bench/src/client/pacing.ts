/**
 * The publisher's pacing loop, bounded in count and time: `send(i)` for i = 0 … count-1
 * at `rate` per second (0: as fast as replies come back), at most `window` in flight;
 * every send's promise (its reply) is awaited before the loop reports.
 */
import { Histogram, type HistogramData } from '../histogram.js';

export interface PaceArgs {
  count: number;
  /** Sends per second; 0: keep `window` in flight. */
  rate: number;
  /** At most this many sends awaiting their reply. */
  window: number;
  /** Give up after this long, sent or not (in-flight replies get 10 s more). */
  maxMs: number;
}

export interface PaceResult {
  sent: number;
  /** Sends whose reply said success. */
  acked: number;
  errors: number;
  firstError: string | null;
  ms: number;
  /** Send → reply, µs. */
  replyLatency: HistogramData;
}

const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function pace(a: PaceArgs, send: (i: number) => Promise<void>): Promise<PaceResult> {
  const start = now();
  const deadline = start + a.maxMs;
  const latency = new Histogram();
  let i = 0;
  let inFlight = 0;
  let acked = 0;
  let errors = 0;
  let firstError: string | null = null;
  let wake: (() => void) | null = null;
  const settle = (): void => {
    inFlight -= 1;
    const w = wake;
    wake = null;
    w?.();
  };
  /** Wait until a reply frees a slot, or `ms` passed. */
  const slotOrTimer = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        wake = null;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const launch = (k: number): void => {
    inFlight += 1;
    const t0 = now();
    send(k).then(
      () => {
        acked += 1;
        latency.record((now() - t0) * 1000);
        settle();
      },
      (err: unknown) => {
        errors += 1;
        firstError ??= err instanceof Error ? err.message : String(err);
        settle();
      },
    );
  };
  while (i < a.count && now() < deadline) {
    const due = a.rate > 0 ? Math.min(a.count, Math.floor(((now() - start) * a.rate) / 1000) + 1) : a.count;
    while (i < due && inFlight < a.window) launch(i++);
    if (i >= a.count) break;
    if (inFlight >= a.window) {
      await slotOrTimer(50);
      continue;
    }
    // Never spin: a timer tick of at least 5 ms (wakeups cost CPU too); each tick sends what is due by then.
    await sleep(Math.min(Math.max(start + ((i + 1) * 1000) / a.rate - now(), 5), 50));
  }
  const sent = i;
  const end = Math.max(deadline, now()) + 10_000;
  while (inFlight > 0 && now() < end) await slotOrTimer(50);
  if (inFlight > 0) {
    errors += inFlight;
    firstError ??= `${inFlight} replies never came`;
  }
  return { sent, acked, errors, firstError, ms: now() - start, replyLatency: latency.toJSON() };
}
