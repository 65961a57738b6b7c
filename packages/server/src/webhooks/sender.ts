/**
 * The webhook sender: claims due messages from the engine's outbox under a lease (so
 * each message is sent by one node at a time, and a dead node's claims are taken over
 * when its lease runs out), POSTs them with the Standard Webhooks headers, and settles
 * each attempt: delivered on 2xx, failed at once on 410, else retried on the schedule
 * (a longer Retry-After on 429 or 503 honoured) and failed after the last delay.
 *
 * It runs beside the hot path, never in it: commits only store messages. At most
 * `concurrency` requests are in flight, so a slow or dead endpoint costs bounded
 * memory (the rest wait in the engine).
 */
import type { Logger } from 'pino';
import type { Outbox, StoredWebhook, WebhookAttempt, WebhookOutcome } from '../engine/types.js';
import { randomBase62 } from '../util/random-id.js';
import type { WebhookSettings } from '../config/webhook-settings.js';
import { webhookHeaders } from './signature.js';

export interface WebhookCounts {
  delivered: number;
  retried: number;
  failed: number;
}

export interface WebhookSenderOptions {
  outbox: Outbox;
  settings: WebhookSettings;
  logger: Logger;
  /** How often the outbox is polled, ms. */
  pollMs: number;
  /** Requests in flight at most. */
  concurrency: number;
  now?: () => number;
  fetch?: typeof fetch;
  /** Called after each attempt is settled (metrics). */
  onSettled?: (outcome: WebhookOutcome['kind']) => void;
}

const MAX_DELAY_MS = 7 * 24 * 3600_000;

/** The outcome of an attempt that got `status` (null: no answer) on its `attempt`-th try (1-based). */
export function outcomeOf(
  schedule: readonly number[],
  attemptNo: number,
  result: WebhookAttempt,
  retryAfterSec: number | null,
  random: () => number = Math.random,
): WebhookOutcome {
  const { status } = result;
  if (status !== null && status >= 200 && status < 300) return { kind: 'delivered', attempt: result };
  if (status === 410 || attemptNo > schedule.length) return { kind: 'failed', attempt: result };
  let delay = (schedule[attemptNo - 1] as number) * (1 + random() * 0.1);
  if ((status === 429 || status === 503) && retryAfterSec !== null) delay = Math.max(delay, retryAfterSec * 1000);
  return { kind: 'retry', attempt: result, nextAt: result.at + Math.min(delay, MAX_DELAY_MS) };
}

/** `Retry-After` in seconds (a number of seconds or an HTTP date), or null. */
function retryAfter(value: string | null, now: number): number | null {
  if (value === null) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, (at - now) / 1000);
}

export class WebhookSender {
  readonly owner = `node_${randomBase62(12)}`;
  readonly counts: WebhookCounts = { delivered: 0, retried: 0, failed: 0 };
  readonly #o: WebhookSenderOptions;
  readonly #now: () => number;
  readonly #fetch: typeof fetch;
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | null = null;
  #polling = false;
  #closed = false;

  constructor(opts: WebhookSenderOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
    this.#fetch = opts.fetch ?? fetch;
  }

  /** The lease of a claim: long enough for the request's timeout, so a live sender keeps it. */
  get leaseMs(): number {
    return this.#o.settings.timeoutMs + 5000;
  }

  start(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setInterval(() => this.poll(), this.#o.pollMs);
    this.#timer.unref();
  }

  /** Look for due messages now (also called on every tick). */
  poll(): void {
    if (this.#polling || this.#closed) return;
    const room = this.#o.concurrency - this.#inFlight.size;
    if (room <= 0) return;
    this.#polling = true;
    this.#o.outbox
      .claim(this.#now(), room, this.leaseMs, this.owner)
      .then((due) => {
        for (const m of due) this.#track(this.#deliver(m));
      })
      .catch((err: unknown) => this.#o.logger.warn({ err }, 'webhook outbox claim failed'))
      .finally(() => {
        this.#polling = false;
      });
  }

  /** Stop claiming; wait for the requests in flight (each ends by its timeout). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await Promise.allSettled([...this.#inFlight]);
  }

  #track(p: Promise<void>): void {
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
  }

  async #deliver(m: StoredWebhook): Promise<void> {
    const { settings, logger } = this.#o;
    const at = this.#now();
    let attempt: WebhookAttempt;
    let after: number | null = null;
    try {
      const res = await this.#fetch(m.endpoint, {
        method: 'POST',
        headers: webhookHeaders(settings.key, m.id, at, m.body),
        body: m.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(settings.timeoutMs),
      });
      after = retryAfter(res.headers.get('retry-after'), at);
      await res.body?.cancel().catch(() => undefined);
      attempt = { at, status: res.status };
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      attempt = { at, status: null, error: timedOut ? `no answer within ${settings.timeoutMs} ms` : errorText(err) };
    }
    const outcome = outcomeOf(settings.schedule, m.attempts.length + 1, attempt, after);
    try {
      const kept = await this.#o.outbox.settle(m.id, this.owner, outcome);
      if (!kept) {
        logger.debug({ webhookId: m.id }, 'webhook lease lost before the attempt was recorded');
        return;
      }
    } catch (err) {
      logger.warn({ err, webhookId: m.id }, 'webhook attempt could not be recorded; it is sent again after its lease');
      return;
    }
    this.counts[outcome.kind === 'retry' ? 'retried' : outcome.kind] += 1;
    this.#o.onSettled?.(outcome.kind);
    const log = { webhookId: m.id, type: m.type, taskId: m.taskId, status: attempt.status, error: attempt.error };
    if (outcome.kind === 'failed') logger.warn(log, 'webhook failed for good');
    else if (outcome.kind === 'retry')
      logger.info({ ...log, nextAt: outcome.nextAt }, 'webhook attempt failed; retrying');
    // Its task's next message may be due: look again without waiting for the tick.
    if (outcome.kind !== 'retry') setImmediate(() => this.poll());
  }
}

function errorText(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err instanceof Error ? err.message : String(err)}${cause}`.slice(0, 300);
}
