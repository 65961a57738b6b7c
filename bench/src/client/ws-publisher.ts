/**
 * One publisher connection over WebSocket, every publish awaited until its reply:
 * - taskwire: `{"op":"auth"}` → `welcome`, then `{"op":"publish","id":n,"channel":…,"data":…}`
 *   → `{"type":"reply","id":n,"result":{"epoch":…,"offset":…}}` (the token has `publish: ["room:*"]`);
 * - ws, uws: the same publish frame and reply (their targets' `publish` op);
 * - socketio: `42<n>["publish",channel,data]` → ack `43<n>[{"epoch":…,"offset":…}]`.
 * Replies are matched by id, read from the bytes (no JSON.parse unless it is an error).
 */
import WebSocket from 'ws';
import { numberAfter } from './frames.js';
import type { Dialect } from './session.js';

const ID_KEY = Buffer.from('"id":');
const ERROR_KEY = Buffer.from('"error"');

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

export class WsPublisher {
  private ws: WebSocket | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();

  constructor(private readonly dialect: Dialect) {}

  /** Connect and, for taskwire, authenticate; resolves when publishes may be sent. */
  open(baseUrl: string, token: string, timeoutMs: number): Promise<void> {
    const path =
      this.dialect === 'taskwire'
        ? '/api/v1/ws'
        : this.dialect === 'socketio'
          ? '/socket.io/?EIO=4&transport=websocket'
          : '/';
    return new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(baseUrl + path, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
      this.ws = ws;
      let ready = false;
      const timer = setTimeout(() => fail(new Error(`publisher not ready within ${timeoutMs} ms`)), timeoutMs);
      const done = (): void => {
        ready = true;
        clearTimeout(timer);
        resolve();
      };
      const fail = (err: Error): void => {
        clearTimeout(timer);
        if (!ready) reject(err);
        for (const w of this.waiting.values()) w.reject(err);
        this.waiting.clear();
        ws.terminate();
      };
      ws.on('open', () => {
        if (this.dialect === 'taskwire') ws.send(JSON.stringify({ op: 'auth', token }));
        else if (this.dialect !== 'socketio') done();
      });
      ws.on('error', (err) => fail(err));
      ws.on('close', (code) => fail(new Error(`publisher connection closed with ${code}`)));
      ws.on('message', (data: Buffer) => {
        if (this.dialect === 'socketio') return this.onSocketIo(data, ws, done, fail);
        if (!ready) {
          const s = data.toString();
          if (s.includes('"welcome"')) return done();
          return fail(new Error(`publisher auth: ${s.slice(0, 200)}`));
        }
        this.settle(numberAfter(data, ID_KEY), data.indexOf(ERROR_KEY) >= 0 ? data : null);
      });
    });
  }

  private onSocketIo(data: Buffer, ws: WebSocket, done: () => void, fail: (e: Error) => void): void {
    const c0 = data[0];
    const c1 = data[1];
    if (c0 === 0x34 && c1 === 0x33) {
      // 43<id>[…]: an ack
      let id = 0;
      for (let i = 2; i < data.length; i++) {
        const c = data[i] as number;
        if (c < 0x30 || c > 0x39) break;
        id = id * 10 + (c - 0x30);
      }
      return this.settle(id, null);
    }
    const s = data.toString();
    if (s === '2') return ws.send('3');
    if (s.startsWith('0')) return ws.send('40');
    if (s.startsWith('40')) return done();
    if (s.startsWith('44')) return fail(new Error(`socket.io connect error ${s}`));
  }

  private settle(id: number, error: Buffer | null): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    if (error) w.reject(new Error(`publish refused: ${error.toString().slice(0, 200)}`));
    else w.resolve();
  }

  /** Publish `data` (JSON text) to `channel`; resolves on the reply. */
  publish(channel: string, data: string): Promise<void> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error('publisher not connected'));
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      ws.send(
        this.dialect === 'socketio'
          ? `42${id}["publish",${JSON.stringify(channel)},${data}]`
          : `{"op":"publish","id":${id},"channel":${JSON.stringify(channel)},"data":${data}}`,
      );
    });
  }

  close(): void {
    this.ws?.terminate();
    this.ws = null;
  }
}
