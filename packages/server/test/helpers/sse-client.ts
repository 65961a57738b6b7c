/**
 * An SSE test client over the `eventsource` package (a real EventSource
 * implementation: its own parser, `Last-Event-ID` and reconnection), with a bounded
 * `next()` like the WebSocket test client. Headers (Authorization, Last-Event-ID)
 * go through its `fetch` option; every request it makes is recorded.
 */
import { EventSource } from 'eventsource';
import { WAIT_MS } from './ws-client.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
export type Json = Record<string, any>;

export interface SseMessage {
  /** `snapshot`, `event`, `resync`, `unsubscribed`. */
  type: string;
  data: Json;
  lastEventId: string;
}

export interface SseClientOptions {
  /** Sent as `Authorization: Bearer …` on every (re)connect; read each time, so a test can swap it. */
  token?: () => string | null;
  /** Extra headers on the first request only (e.g. Last-Event-ID). */
  firstHeaders?: Record<string, string>;
}

const TYPES = ['snapshot', 'event', 'resync', 'unsubscribed'];

export class SseClient {
  readonly es: EventSource;
  /** Headers of every request the EventSource made. */
  readonly requests: Array<Record<string, string>> = [];
  /** Every `error` event: `code` is the HTTP status when it failed on one. */
  readonly errors: Array<{ code: number | undefined; message: string | undefined }> = [];
  private readonly inbox: SseMessage[] = [];
  private waiters: Array<{ pred: (m: SseMessage) => boolean; resolve: (m: SseMessage) => void }> = [];
  private errorWaiters: Array<() => void> = [];
  private opened = 0;

  constructor(url: string, opts: SseClientOptions = {}) {
    this.es = new EventSource(url, {
      fetch: (input, init) => {
        const headers: Record<string, string> = { ...init.headers };
        if (this.opened++ === 0) Object.assign(headers, opts.firstHeaders);
        const token = opts.token?.();
        if (token) headers.authorization = `Bearer ${token}`;
        this.requests.push(headers);
        return fetch(input, { ...init, headers });
      },
    });
    for (const type of TYPES) {
      this.es.addEventListener(type, (e) => {
        const { data, lastEventId } = e as unknown as { data: string; lastEventId: string };
        this.push({ type, data: JSON.parse(data) as Json, lastEventId });
      });
    }
    this.es.addEventListener('error', (e) => {
      const ev = e as Event & { code?: number; message?: string };
      this.errors.push({ code: ev.code, message: ev.message });
      const waiters = this.errorWaiters;
      this.errorWaiters = [];
      for (const w of waiters) w();
    });
  }

  /** All messages received and not yet taken by next(). */
  get pending(): readonly SseMessage[] {
    return this.inbox;
  }

  next(
    pred: (m: SseMessage) => boolean = () => true,
    what = 'an SSE message',
    timeoutMs = WAIT_MS,
  ): Promise<SseMessage> {
    const i = this.inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (m: SseMessage) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out waiting for ${what}; inbox: ${JSON.stringify(this.inbox).slice(0, 500)}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The next `n` messages of `type`, in order. */
  async take(n: number, type = 'event'): Promise<SseMessage[]> {
    const out: SseMessage[] = [];
    for (let i = 0; i < n; i++) out.push(await this.next((m) => m.type === type, `${type} #${i + 1} of ${n}`));
    return out;
  }

  /** Resolves at the next `error` event (a failed connect, or the stream ended and a reconnect is scheduled). */
  nextError(timeoutMs = WAIT_MS): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for an SSE error event')), timeoutMs);
      this.errorWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  close(): void {
    this.es.close();
  }

  private push(m: SseMessage): void {
    const w = this.waiters.find((x) => x.pred(m));
    if (w) {
      this.waiters = this.waiters.filter((x) => x !== w);
      w.resolve(m);
    } else this.inbox.push(m);
  }
}
