/**
 * A small WebSocket client for the multi-node tests: authenticate, subscribe (with
 * `since`), and follow one task or room channel the way the SDK does: events applied
 * in offset order, gaps and repeats counted, and on `unsubscribed` with
 * `resubscribe: true` a resubscribe with recovery (a snapshot on `recovered: false`).
 */
import WebSocket from 'ws';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary server frames
export type Frame = Record<string, any>;

export class WsClient {
  readonly ws: WebSocket;
  private readonly frames: Frame[] = [];
  private waiters: Array<{ pred: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  private nextId = 1;
  /** Every `event` frame, in arrival order. */
  readonly events: Frame[] = [];
  onFrame: ((f: Frame) => void) | null = null;

  private constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('error', () => undefined);
    this.ws.on('message', (data: WebSocket.RawData) => {
      const raw = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
      const frame = JSON.parse(raw.toString()) as Frame;
      if (frame.type === 'event') this.events.push(frame);
      this.onFrame?.(frame);
      const w = this.waiters.find((x) => x.pred(frame));
      if (w) {
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(frame);
      } else this.frames.push(frame);
    });
  }

  static async connect(url: string, jwt: string): Promise<WsClient> {
    const c = new WsClient(url);
    await new Promise<void>((resolve, reject) => {
      c.ws.once('open', () => resolve());
      c.ws.once('close', () => reject(new Error('closed before open')));
    });
    c.ws.send(JSON.stringify({ op: 'auth', token: jwt }));
    await c.next((f) => f.type === 'welcome', 'welcome');
    return c;
  }

  next(pred: (f: Frame) => boolean, what: string, timeoutMs = 15_000): Promise<Frame> {
    const i = this.frames.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const done = (f: Frame): void => {
        clearTimeout(timer);
        resolve(f);
      };
      this.waiters.push({ pred, resolve: done });
    });
  }

  async request(frame: Frame): Promise<Frame> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ ...frame, id }));
    return this.next((f) => f.type === 'reply' && f.id === id, `reply to ${String(frame.op)}`);
  }

  /** Subscribe; throws on an error reply. */
  async subscribe(channel: string, since?: { epoch: string; offset: number }): Promise<Frame> {
    const reply = await this.request({ op: 'subscribe', channel, ...(since ? { since } : {}) });
    if (reply.error) throw new Error(`subscribe ${channel}: ${JSON.stringify(reply.error)}`);
    return reply.result as Frame;
  }

  /** Drop the TCP connection without a close frame (a crash or a network cut). */
  destroy(): void {
    this.ws.terminate();
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
  }
}

/**
 * Events of one channel in order since a position, with gaps and repeats detected.
 * Between hold() and begin() (a subscribe in flight), live events are buffered: one
 * can arrive in the same TCP read as the reply, before the awaiting code runs.
 */
export class ChannelFollower {
  epoch = '';
  offset = 0;
  readonly data: unknown[] = [];
  gaps = 0;
  repeats = 0;
  private held: Frame[] | null = null;

  hold(): void {
    this.held ??= [];
  }

  /** Start from a subscribe result (its events, then its position), then the held events. */
  begin(result: Frame): void {
    const held = this.held ?? [];
    this.held = null;
    this.epoch = result.epoch as string;
    for (const e of (result.events ?? []) as Frame[]) this.apply(e);
    this.offset = result.offset as number;
    for (const e of held) if (e.offset > this.offset) this.apply(e);
  }

  apply(e: Frame): void {
    if (this.held) {
      this.held.push(e);
      return;
    }
    if (e.epoch !== this.epoch) {
      this.gaps += 1;
      return;
    }
    if (e.offset <= this.offset) this.repeats += 1;
    else {
      if (e.offset !== this.offset + 1) this.gaps += 1;
      this.offset = e.offset as number;
      this.data.push(e.data);
    }
  }
}
