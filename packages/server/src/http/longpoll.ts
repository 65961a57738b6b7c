/**
 * Long-polling (docs/protocol.md §4, `GET /channels/:channel/history?since=…&wait=<s>`):
 * a request that found nothing after `since` waits, as a temporary Hub Subscriber,
 * for the first event, and answers it; or answers `events: []` at the timeout.
 *
 * - Gapless: the wait subscribes with `since`, so an event published between the
 *   history read and the subscription is in the subscribe result and answered at
 *   once; later ones are delivered live.
 * - Events that arrive together (in the same turn of the event loop) are answered
 *   together, up to `limit`; the body is built from the Hub's frame bytes, without
 *   parsing or re-encoding them.
 * - No sticky state: everything is released when the answer is sent, when the client
 *   disconnects, or on shutdown (which answers every waiting request at once, with
 *   `events: []` and the current position). Cleanup runs exactly once.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { TaskwireError, type Position, type SubscribeResult } from '@taskwire/protocol';
import type { Principal } from '../auth/types.js';
import type { ChannelService } from '../hub/channel-service.js';
import type { EncodedEvent, Subscriber } from '../hub/types.js';
import { isGone } from './sse-stream.js';

const COMMA = Buffer.from(',');
const CLOSE_BODY = Buffer.from(']}');

/**
 * `{"channel","epoch","offset","recovered","events"}` with the events' JSON given as
 * bytes. As for a plain history read, `offset` is the channel's position as this
 * node knows it (a client continues from its last event's offset, or from `offset`
 * when `events` is empty).
 */
function historyBody(channel: string, at: Position, recovered: boolean, events: readonly Buffer[]): Buffer {
  const head = Buffer.from(
    `{"channel":${JSON.stringify(channel)},"epoch":${JSON.stringify(at.epoch)},"offset":${at.offset},"recovered":${recovered},"events":[`,
  );
  const parts: Buffer[] = [head];
  events.forEach((e, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(e);
  });
  parts.push(CLOSE_BODY);
  return Buffer.concat(parts);
}

class LongPollWait implements Subscriber {
  readonly id = `p_${randomBytes(12).toString('base64url')}`;
  private state: 'waiting' | 'done' = 'waiting';
  private readonly frames: Buffer[] = [];
  private at: Position;
  private timer: NodeJS.Timeout | null = null;
  private batch: NodeJS.Immediate | null = null;

  constructor(
    private readonly registry: LongPollRegistry,
    private readonly channel: string,
    private readonly limit: number,
    since: Position,
    private readonly answer: (body: Buffer) => void,
    /** The user whose slot it holds (null: the API key, which takes none). */
    readonly user: string | null,
  ) {
    this.at = since;
  }

  get done(): boolean {
    return this.state === 'done';
  }

  /** Subscribed and caught up: wait up to `ms` for live events from `at`. */
  waitFrom(at: Position, ms: number): void {
    if (this.state !== 'waiting') return;
    this.at = at;
    this.registry.timers += 1;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.registry.timers -= 1;
      this.finish();
    }, ms);
    this.timer.unref();
  }

  deliver(_channel: string, event: EncodedEvent, offset: number): void {
    if (this.state !== 'waiting') return;
    this.frames.push(event.payload);
    this.at = { epoch: this.at.epoch, offset };
    if (this.frames.length >= this.limit) this.finish();
    else this.batch ??= setImmediate(() => this.finish());
  }

  ended(): void {
    this.finish();
  }

  /** Answer with the events gathered so far (none at the timeout or on shutdown). Idempotent. */
  finish(body?: Buffer): void {
    if (!this.release()) return;
    this.registry.delivered.longpoll += this.frames.length;
    this.answer(body ?? historyBody(this.channel, this.at, true, this.frames));
  }

  private release(): boolean {
    if (this.state === 'done') return false;
    this.state = 'done';
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.registry.timers -= 1;
    }
    if (this.batch) clearImmediate(this.batch);
    this.batch = null;
    this.registry.release(this);
    return true;
  }
}

/** What the waiting requests need of the node. */
export interface LongPollContext {
  readonly channels: Pick<ChannelService, 'subscribe' | 'activate' | 'release' | 'budget'>;
  readonly metrics: { readonly delivered: { longpoll: number } };
}

export interface WaitRequest {
  principal: Principal;
  channel: string;
  since: Position;
  limit: number;
  waitMs: number;
  /** The response: a client disconnect ('close' before the answer) aborts the wait. */
  res: ServerResponse;
}

/** Every waiting long-poll request of one server. */
export class LongPollRegistry {
  /** Live wait timers (leak checks). */
  timers = 0;
  readonly delivered: { longpoll: number };
  private readonly waits = new Set<LongPollWait>();
  private phase: 'running' | 'closing' = 'running';

  constructor(private readonly ctx: LongPollContext) {
    this.delivered = ctx.metrics.delivered;
  }

  get size(): number {
    return this.waits.size;
  }

  /**
   * Wait for the first events after `since` (the caller has just read history and
   * found none). Resolves with the JSON body to send.
   */
  async wait(req: WaitRequest): Promise<Buffer> {
    const { ctx } = this;
    const { channel, since, limit } = req;
    // A held long-poll is a connection: it takes a slot of the node and of its user, or answers 429 at once.
    const { budget } = ctx.channels;
    if (!budget.admit('longpoll')) {
      throw new TaskwireError('limit_exceeded', 'this node has reached its connection limit');
    }
    const sub = req.principal.apiKey ? null : req.principal.sub;
    if (sub !== null && !budget.claimUser(sub)) {
      budget.leave('longpoll');
      throw new TaskwireError('limit_exceeded', 'too many connections for this user on this node');
    }
    let answer: (body: Buffer) => void = () => undefined;
    const answered = new Promise<Buffer>((resolve) => (answer = resolve));
    const w = new LongPollWait(this, channel, limit, since, answer, sub);
    this.waits.add(w);
    // The client went away: release now (the answer, if any, goes nowhere).
    req.res.once('close', () => w.finish());
    if (isGone(req.res)) w.finish(); // it left before anyone listened
    if (this.phase !== 'running') w.finish(historyBody(channel, since, true, []));
    if (w.done) return answered;
    let result: SubscribeResult | null;
    try {
      result = await ctx.channels.subscribe(req.principal, w, { channel, since, alive: () => !w.done });
    } catch (err) {
      if (w.done) return answered; // ended while subscribing (client gone, shutdown): already answered
      w.finish();
      throw err;
    }
    if (result === null) return answered; // ended before the subscription was made: already answered
    const at = { epoch: result.epoch, offset: result.offset };
    if (w.done) {
      // Shutdown (or the client left) while subscribing: answer with the position.
      w.finish(historyBody(channel, at, true, []));
    } else if (result.recovered !== true) {
      w.finish(historyBody(channel, at, false, []));
    } else if (result.events.length > 0) {
      // Published between the history read and the subscription: answer them now.
      const events = result.events.slice(0, limit);
      this.delivered.longpoll += events.length;
      w.finish(
        historyBody(
          channel,
          at,
          true,
          events.map((e) => Buffer.from(JSON.stringify(e))),
        ),
      );
    } else {
      w.waitFrom(at, req.waitMs);
      ctx.channels.activate(w, channel);
    }
    return answered;
  }

  /** Called once by a wait's cleanup. */
  release(w: LongPollWait): void {
    const { channels } = this.ctx;
    channels.release(w);
    if (this.waits.delete(w)) {
      channels.budget.leave('longpoll');
      if (w.user !== null) channels.budget.releaseUser(w.user);
    }
  }

  /** Shutdown: answer every waiting request now, and every new one at once. */
  closeAll(): void {
    this.phase = 'closing';
    for (const w of Array.from(this.waits)) w.finish();
  }
}
