/**
 * A small WebSocket test client over `ws`: connect, send frames, await the next
 * frame matching a predicate, await the close code. Every wait is bounded and fails
 * with a message saying what it waited for.
 */
import WebSocket from 'ws';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary server frames
export type Frame = Record<string, any>;

export interface ClientOptions {
  /** Which frames go to the inbox that `next()` reads (default: all). High-volume tests keep events out. */
  inbox?: (frame: Frame) => boolean;
  /** Called for every frame, before the inbox. */
  onFrame?: (frame: Frame) => void;
  /** Answer pings automatically (default true). */
  autoPong?: boolean;
}

export const WAIT_MS = 15_000;

export class TestClient {
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  closeCode: number | null = null;
  private readonly inbox: Frame[] = [];
  private waiters: Array<{ pred: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  private nextId = 1;

  constructor(
    url: string,
    private readonly opts: ClientOptions = {},
  ) {
    this.ws = new WebSocket(url, { autoPong: opts.autoPong ?? true });
    this.ws.on('error', () => undefined); // surfaced through `closed`
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
      this.ws.once('close', () => reject(new Error('closed before open')));
    });
    this.opened.catch(() => undefined);
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => {
        this.closeCode = code;
        resolve({ code, reason: reason.toString() });
      });
    });
    this.ws.on('message', (data: WebSocket.RawData) => this.onMessage(data));
  }

  static async connect(url: string, opts?: ClientOptions): Promise<TestClient> {
    const c = new TestClient(url, opts);
    await c.opened;
    return c;
  }

  /** Connect and authenticate with a first `auth` frame; resolves after `welcome`. */
  static async authed(url: string, token: string, opts?: ClientOptions): Promise<TestClient> {
    const c = await TestClient.connect(url, opts);
    c.send({ op: 'auth', token });
    await c.next((f) => f.type === 'welcome', 'welcome');
    return c;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Send a request with a fresh id and await its reply. */
  async request(frame: Frame): Promise<Frame> {
    const id = this.nextId++;
    this.send({ ...frame, id });
    return this.next((f) => f.type === 'reply' && f.id === id, `reply to ${String(frame.op)} #${id}`);
  }

  /** The first inbox frame matching `pred` (removed from the inbox), waiting for it if needed. */
  next(pred: (f: Frame) => boolean = () => true, what = 'a frame', timeoutMs = WAIT_MS): Promise<Frame> {
    const i = this.inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out waiting for ${what}; inbox: ${JSON.stringify(this.inbox).slice(0, 500)}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Resolves with the close code (bounded). */
  async closeCodeWithin(timeoutMs = WAIT_MS): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out waiting for close')), timeoutMs);
    });
    try {
      return (await Promise.race([this.closed, timeout])).code;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
  }

  /** Destroy the TCP socket without a close frame (an abrupt disconnect). */
  destroy(): void {
    this.ws.terminate();
  }

  private onMessage(data: WebSocket.RawData): void {
    const text = Array.isArray(data) ? Buffer.concat(data).toString() : Buffer.from(data as Buffer).toString();
    const frame = JSON.parse(text) as Frame;
    this.opts.onFrame?.(frame);
    if (this.opts.inbox && !this.opts.inbox(frame)) return;
    const w = this.waiters.find((x) => x.pred(frame));
    if (w) {
      this.waiters = this.waiters.filter((x) => x !== w);
      w.resolve(frame);
    } else this.inbox.push(frame);
  }
}

/** Poll `check` until it returns true (bounded); for server-side state that settles asynchronously. */
export async function eventually(check: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
