/**
 * Server-Sent Events streams (docs/protocol.md §4) as Hub Subscribers, and the gateway that
 * owns them: the registry, one shared heartbeat, the per-event chunk cache, the
 * slow-consumer limit, token expiry and shutdown.
 *
 * - Encode once: the Hub hands every subscriber of a channel the same frame Buffer,
 *   one event at a time, so a one-slot cache keyed by that Buffer builds the SSE
 *   chunk (`id:`/`event:`/`data:` around the frame bytes) once per event per channel.
 * - After every write, `writableLength` over `sendBufferBytes` destroys the stream
 *   (a slow consumer: the client reconnects with Last-Event-ID and recovers).
 * - One heartbeat interval for all streams (unref'd, running only while there are
 *   streams) writes a `: ping` comment every `heartbeatMs`.
 * - A stream whose token expires is ended at `exp` (plus the clock leeway, as a
 *   WebSocket is closed with 4001); the client reconnects with a fresh token.
 * - Cleanup (hub subscriptions, registry, timer) runs exactly once, whichever comes
 *   first: client disconnect, slow consumer, expiry, `unsubscribed`, shutdown.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { TaskwireError } from '@taskwire/protocol';
import type { Principal } from '../auth/types.js';
import type { ServerConfig } from '../config/types.js';
import type { ChannelService } from '../hub/channel-service.js';
import type { EncodedEvent, Subscriber } from '../hub/types.js';

/** The `retry:` hint sent first on every stream (EventSource's reconnect delay), ms. */
export const SSE_RETRY_MS = 2000;
/** setTimeout's largest delay; a later expiry is re-checked when it fires. */
const MAX_TIMER_MS = 2_147_483_647;
const PING = Buffer.from(': ping\n\n');
const BLANK = Buffer.from('\n\n');

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
} as const;

/** One SSE block: optional `id`, the event name and one data line (JSON never contains a newline). */
export function sseBlock(event: string, data: string, id?: string): string {
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${data}\n\n`;
}

type StreamState = 'starting' | 'open' | 'closed';
/** `end`: finish the response (flushes); `destroy`: drop the socket (slow consumer). */
type EndHow = 'end' | 'destroy' | 'gone';

/** The client's connection is already closed (its 'close' event may have fired before anyone listened). */
export function isGone(res: ServerResponse): boolean {
  return res.destroyed || res.socket === null || res.socket.destroyed;
}

export class SseStream implements Subscriber {
  readonly id = `s_${randomBytes(12).toString('base64url')}`;
  private state: StreamState = 'starting';
  private timer: NodeJS.Timeout | null = null;
  /** The channel's epoch (constant for a stream: an epoch change ends the subscription). */
  private epoch = '';

  constructor(
    readonly res: ServerResponse,
    private readonly gw: SseGateway,
    readonly principal: Principal,
  ) {}

  get closed(): boolean {
    return this.state === 'closed';
  }

  /** Send the headers and the preamble (retry hint, snapshot or resync, recovered events); start live delivery. */
  open(epoch: string, preamble: string): void {
    if (this.state !== 'starting') return;
    this.state = 'open';
    this.epoch = epoch;
    this.res.writeHead(200, SSE_HEADERS);
    this.write(`retry: ${SSE_RETRY_MS}\n\n${preamble}`);
    if (this.state === 'open') this.scheduleExpiry();
  }

  deliver(_channel: string, event: EncodedEvent, offset: number): void {
    if (this.state !== 'open') return;
    this.gw.delivered.sse += 1;
    this.write(this.gw.chunkFor(event, this.epoch, offset));
  }

  ended(channel: string, info: Parameters<Subscriber['ended']>[1]): void {
    if (this.state !== 'open') return;
    this.write(
      sseBlock(
        'unsubscribed',
        JSON.stringify({
          channel,
          code: info.code,
          message: info.message,
          resubscribe: info.resubscribe,
          ...(info.reason !== undefined ? { reason: info.reason } : {}),
        }),
      ),
    );
    this.end('end');
  }

  ping(): void {
    if (this.state === 'open') this.write(PING);
  }

  /**
   * Idempotent; the single cleanup point. Before `open()` nothing is written (the
   * route answers with an HTTP error instead).
   */
  end(how: EndHow): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clearTimer();
    this.gw.release(this);
    if (how === 'destroy') this.res.destroy();
    else if (how === 'end' && this.res.headersSent && !this.res.writableEnded) this.res.end();
  }

  private write(chunk: Buffer | string): void {
    this.res.write(chunk);
    if (this.res.writableLength > this.gw.sendBufferBytes && this.state === 'open') {
      this.gw.counts.slowConsumerCloses += 1;
      this.end('destroy');
    }
  }

  private deadline(): number | null {
    const exp = this.principal.expiresAt;
    return exp === null ? null : exp + this.gw.clockLeewayMs;
  }

  private scheduleExpiry(): void {
    const deadline = this.deadline();
    if (deadline === null) return;
    this.clearTimer();
    this.gw.counts.timers += 1;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.gw.counts.timers -= 1;
        if (Date.now() >= deadline) this.end('end');
        else this.scheduleExpiry();
      },
      Math.min(Math.max(0, deadline - Date.now()), MAX_TIMER_MS),
    );
    this.timer.unref();
  }

  private clearTimer(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.gw.counts.timers -= 1;
  }
}

export interface SseCounts {
  slowConsumerCloses: number;
  /** Live expiry timers (leak checks). */
  timers: number;
}

/** What the SSE streams need of the node. */
export interface SseContext {
  readonly config: Pick<ServerConfig, 'sendBufferBytes' | 'clockLeewaySec' | 'heartbeatMs'>;
  readonly channels: Pick<ChannelService, 'release' | 'budget'>;
  readonly metrics: { readonly delivered: { sse: number } };
}

/** Every SSE stream of one server: created by the plugin, used by the route, stopped on shutdown. */
export class SseGateway {
  readonly counts: SseCounts = { slowConsumerCloses: 0, timers: 0 };
  /** Events written per transport (the metrics' plain counters): streams bump `sse`. */
  readonly delivered: { sse: number };
  readonly sendBufferBytes: number;
  readonly clockLeewayMs: number;
  private readonly streams = new Set<SseStream>();
  private heartbeat: NodeJS.Timeout | null = null;
  private phase: 'running' | 'closing' = 'running';
  private cachedEvent: EncodedEvent | null = null;
  private cachedChunk: Buffer = BLANK;

  constructor(private readonly ctx: SseContext) {
    this.delivered = ctx.metrics.delivered;
    this.sendBufferBytes = ctx.config.sendBufferBytes;
    this.clockLeewayMs = ctx.config.clockLeewaySec * 1000;
  }

  get size(): number {
    return this.streams.size;
  }

  get accepting(): boolean {
    return this.phase === 'running';
  }

  /**
   * A new stream for this response, holding a connection slot of the node and of its
   * user (API-key streams take no user slot), released when the client goes away.
   * Over a limit: `limit_exceeded`, and nothing is registered.
   */
  create(res: ServerResponse, principal: Principal): SseStream {
    const { budget } = this.ctx.channels;
    if (!budget.admit('sse')) {
      throw new TaskwireError('limit_exceeded', 'this node has reached its connection limit');
    }
    if (!principal.apiKey && !budget.claimUser(principal.sub)) {
      budget.leave('sse');
      throw new TaskwireError('limit_exceeded', 'too many connections for this user on this node');
    }
    const stream = new SseStream(res, this, principal);
    this.streams.add(stream);
    res.once('close', () => stream.end('gone'));
    // The client may have left while the request was authenticated ('close' already fired).
    if (isGone(res)) stream.end('gone');
    if (!this.heartbeat) {
      this.heartbeat = setInterval(() => this.tick(), this.ctx.config.heartbeatMs);
      this.heartbeat.unref();
    }
    return stream;
  }

  /** The SSE chunk of an event frame, built once per frame (the same Buffer for every stream). */
  chunkFor(event: EncodedEvent, epoch: string, offset: number): Buffer {
    if (event !== this.cachedEvent) {
      this.cachedEvent = event;
      this.cachedChunk = Buffer.concat([
        Buffer.from(`id: ${epoch}:${offset}\nevent: event\ndata: `),
        event.payload,
        BLANK,
      ]);
    }
    return this.cachedChunk;
  }

  /** Called once by a stream's cleanup. */
  release(stream: SseStream): void {
    this.ctx.channels.release(stream);
    if (this.streams.delete(stream)) {
      const { budget } = this.ctx.channels;
      budget.leave('sse');
      if (!stream.principal.apiKey) budget.releaseUser(stream.principal.sub);
    }
    if (this.streams.size === 0) this.stopHeartbeat();
  }

  /** End every stream (shutdown) and refuse new ones. */
  closeAll(): void {
    this.phase = 'closing';
    for (const stream of Array.from(this.streams)) stream.end('end');
    this.stopHeartbeat();
    this.cachedEvent = null;
  }

  private tick(): void {
    for (const stream of Array.from(this.streams)) stream.ping();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }
}
