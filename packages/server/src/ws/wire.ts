/**
 * One WebSocket as a Connection sees it (`WireSocket`), plus the transport state the
 * endpoint keeps per socket (the connection, pongs missed). One small object per
 * socket: no closures, no per-socket listener functions (the endpoint's listeners are
 * shared and find the wire by its socket).
 *
 * With no extension negotiated (taskwire never enables permessage-deflate) ws's
 * Sender writes synchronously, so frames built here and written straight to the TCP
 * socket ws writes to stay in order with ws's own pings and close frame, and
 * ws.bufferedAmount still counts them (they sit in the socket's writable buffer):
 * Hub events go out as the frame the Hub built once for every socket, and replies as
 * one buffer each (no header and payload pair). Writes of one turn are batched
 * (`write-batch.ts`). Otherwise, or once the socket is not open, ws frames the
 * payload itself.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { encodeTextFrame, type EncodedEvent } from '../hub/encoded-event.js';
import type { Connection, WireSocket } from './connection.js';
import { beforeWrite, type Batched } from './write-batch.js';

const TEXT = { binary: false } as const;

export class Wire implements WireSocket, Batched {
  /** Set right after construction (the connection needs its wire first). */
  conn!: Connection;
  /** Pings sent since the last pong. */
  missed = 0;
  turn = -1;
  corked = false;
  private readonly direct: boolean;

  constructor(
    readonly ws: WebSocket,
    private readonly raw: Socket,
  ) {
    this.direct = ws.extensions === '';
  }

  send(text: string): void {
    if (this.direct && this.ws.readyState === 1) this.write(encodeTextFrame(text));
    else this.ws.send(text, TEXT);
  }

  sendEvent(event: EncodedEvent): void {
    if (this.direct && this.ws.readyState === 1) this.write(event.wsFrame);
    else this.ws.send(event.payload, TEXT);
  }

  private write(frame: Buffer): void {
    beforeWrite(this);
    this.raw.write(frame);
  }

  cork(): void {
    this.raw.cork();
  }

  uncork(): void {
    this.raw.uncork();
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }
}
