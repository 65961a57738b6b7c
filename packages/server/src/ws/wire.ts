/**
 * One WebSocket as a Connection sees it (`WireSocket`), plus the transport state the
 * endpoint keeps per socket (the connection, pongs missed). One small object per
 * socket: no closures, no per-socket listener functions (the endpoint's listeners are
 * shared and find the wire by its socket).
 *
 * Hub events go out as the frame the Hub built once for every socket, written
 * straight to the TCP socket ws writes to. With no extension negotiated (taskwire
 * never enables permessage-deflate) ws's Sender writes synchronously, so such a write
 * stays in order with ws's own replies, pings and close frame, and ws.bufferedAmount
 * still counts it (it sits in the socket's writable buffer). Otherwise, or once the
 * socket is not open, ws frames the payload itself.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { EncodedEvent } from '../hub/encoded-event.js';
import type { Connection, WireSocket } from './connection.js';

const TEXT = { binary: false } as const;

export class Wire implements WireSocket {
  /** Set right after construction (the connection needs its wire first). */
  conn!: Connection;
  /** Pings sent since the last pong. */
  missed = 0;
  private readonly direct: boolean;

  constructor(
    readonly ws: WebSocket,
    private readonly raw: Socket,
  ) {
    this.direct = ws.extensions === '';
  }

  send(text: string): void {
    this.ws.send(text, TEXT);
  }

  sendEvent(event: EncodedEvent): void {
    if (this.direct && this.ws.readyState === 1) this.raw.write(event.wsFrame);
    else this.ws.send(event.payload, TEXT);
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
