/**
 * One load-generator connection speaking one target's dialect:
 * - taskwire: `{"op":"auth"}` → welcome, `{"op":"subscribe"}` (with `since` to recover) → reply;
 * - ws, uws: `{"op":"subscribe"}` → `{"type":"reply",…}`;
 * - socketio: Engine.IO open `0…` → `40` → `40{…}`, `421["join",room]` → ack `431[]`; pings `2` → `3`.
 * Events are counted, timed (publish → receipt) and checked for offset order.
 */
import WebSocket from 'ws';
import { isEventFrame, isSocketIoEvent, offsetOf, publishTime } from './frames.js';
import type { Histogram } from '../histogram.js';

export type Dialect = 'taskwire' | 'ws' | 'socketio' | 'uws';

export interface Position {
  epoch: string;
  offset: number;
}

/** Counters shared by every session of a worker. */
export interface Tally {
  received: number;
  firstAt: number;
  lastAt: number;
  outOfOrder: number;
  unexpectedCloses: number;
  errors: string[];
  readonly latency: Histogram;
}

type Phase = 'connecting' | 'handshake' | 'subscribing' | 'ready' | 'closed';

export interface OpenResult {
  /** Subscribe reply (taskwire): recovered flag and the events it carried. */
  recovered?: boolean;
  replayed?: number;
  replayOk?: boolean;
}

const now = (): number => performance.timeOrigin + performance.now();

function pathOf(dialect: Dialect): string {
  switch (dialect) {
    case 'taskwire':
      return '/api/v1/ws';
    case 'socketio':
      return '/socket.io/?EIO=4&transport=websocket';
    case 'ws':
    case 'uws':
      return '/';
  }
}

interface ReplyFrame {
  type?: string;
  id?: number;
  result?: { epoch?: string; offset?: number; recovered?: boolean; events?: Array<{ offset: number }> };
  error?: { code: string; message: string };
}

export class Session {
  private ws: WebSocket | null = null;
  private phase: Phase = 'closed';
  /** The channel position this session has seen (its recovery point). */
  position: Position = { epoch: '', offset: 0 };
  received = 0;

  constructor(
    private readonly dialect: Dialect,
    private readonly tally: Tally,
    readonly channel: string | null,
    private readonly token: string | undefined,
  ) {}

  /** Connect, handshake, subscribe (recovering from `since`); resolves when ready. */
  open(baseUrl: string, timeoutMs: number, since?: Position): Promise<OpenResult> {
    return new Promise<OpenResult>((resolve, reject) => {
      const ws = new WebSocket(baseUrl + pathOf(this.dialect), {
        perMessageDeflate: false,
        skipUTF8Validation: true,
        maxPayload: 64 * 1024 * 1024,
        handshakeTimeout: timeoutMs,
      });
      this.ws = ws;
      this.phase = 'connecting';
      let settled = false;
      const timer = setTimeout(() => fail(new Error(`not ready within ${timeoutMs} ms`)), timeoutMs);
      const done = (r: OpenResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.phase = 'ready';
        resolve(r);
      };
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.phase = 'closed';
        ws.terminate();
        reject(err);
      };
      const send = (s: string): void => ws.send(s);
      const subscribe = (): void => {
        if (this.channel === null) return done({});
        this.phase = 'subscribing';
        if (this.dialect === 'socketio') return send(`421${JSON.stringify(['join', this.channel])}`);
        const frame: Record<string, unknown> = { op: 'subscribe', id: 1, channel: this.channel };
        if (since) frame.since = since;
        send(JSON.stringify(frame));
      };
      ws.on('open', () => {
        this.phase = 'handshake';
        if (this.dialect === 'taskwire') send(JSON.stringify({ op: 'auth', token: this.token ?? '' }));
        else if (this.dialect !== 'socketio') subscribe();
      });
      ws.on('error', (err) => fail(err));
      ws.on('close', (code) => {
        if (!settled) return fail(new Error(`closed with ${code} while connecting`));
        if (this.phase !== 'closed') this.tally.unexpectedCloses += 1;
        this.phase = 'closed';
      });
      ws.on('message', (data: Buffer) => {
        if (this.phase === 'ready') return this.onLive(data);
        if (this.dialect === 'socketio') {
          const s = data.toString();
          if (s === '2') return send('3');
          // The Socket.IO CONNECT packet carries the token (`auth` in the client API).
          if (s.startsWith('0')) return send(this.token ? `40${JSON.stringify({ token: this.token })}` : '40');
          if (s.startsWith('40')) return subscribe();
          if (s.startsWith('431')) return done({});
          if (s.startsWith('44')) return fail(new Error(`socket.io connect error ${s}`));
          return;
        }
        if (isEventFrame(data)) return this.onLive(data); // before the reply: taskwire never does this
        const msg = JSON.parse(data.toString()) as ReplyFrame;
        if (msg.type === 'welcome') return subscribe();
        if (msg.type === 'error') return fail(new Error(`error frame ${JSON.stringify(msg)}`));
        if (msg.type !== 'reply' || msg.id !== 1) return;
        if (msg.error) return fail(new Error(`subscribe: ${msg.error.code} ${msg.error.message}`));
        const r = msg.result ?? {};
        if (this.dialect !== 'taskwire') return done({});
        this.position = { epoch: r.epoch ?? '', offset: r.offset ?? 0 };
        const events = r.events ?? [];
        let replayOk = true;
        if (since && r.recovered) {
          replayOk =
            events.length === (r.offset ?? 0) - since.offset &&
            events.every((e, i) => e.offset === since.offset + i + 1);
        }
        done({ recovered: r.recovered, replayed: events.length, replayOk });
      });
    });
  }

  private onLive(data: Buffer): void {
    if (this.dialect === 'socketio') {
      if (!isSocketIoEvent(data)) {
        if (data.length === 1 && data[0] === 0x32) this.ws?.send('3');
        return;
      }
    } else if (!isEventFrame(data)) return;
    const t = now();
    const tally = this.tally;
    tally.received += 1;
    this.received += 1;
    if (tally.firstAt === 0) tally.firstAt = t;
    tally.lastAt = t;
    const sent = publishTime(data);
    if (sent === sent) tally.latency.record((t - sent) * 1000);
    const offset = offsetOf(data);
    if (this.position.offset !== 0 && offset !== this.position.offset + 1) tally.outOfOrder += 1;
    this.position.offset = offset;
  }

  /** Drop the connection abruptly (no close handshake); not counted as unexpected. */
  drop(): void {
    this.phase = 'closed';
    this.ws?.terminate();
    this.ws = null;
  }
}
