/**
 * The transport seam. The connection speaks protocol frames (docs/protocol.md §2) to a
 * Transport and hears frames back; it never touches a WebSocket directly. The
 * WebSocket transport is here, with the types of what the transports are built on
 * (WebSocket, EventSource, fetch); the SSE and long-poll transports (./transports/,
 * in the entry `@taskwire/client/fallback`, ./fallback-entry.ts) implement the same
 * interface by translating:
 * `auth` → keep the token, `subscribe` → open `GET /channels/:channel/events` (with
 * `lastEventId` from `since`) or poll `history?since=&wait=`, synthesizing `welcome`,
 * `reply` and `event` frames, so positions, recovery and dedup above stay the same.
 */
import type { ClientFrame, ServerFrame } from '@taskwire/protocol';

export interface TransportHandlers {
  /** The transport is ready for the `auth` frame. */
  onOpen(): void;
  onFrame(frame: ServerFrame): void;
  /** Called once, when the transport is gone (not after `close()` by the connection). */
  onClose(code: number, reason: string): void;
}

export interface Transport {
  send(frame: ClientFrame): void;
  /** Close and detach: no handler is called after this. */
  close(code: number, reason: string): void;
}

/** Opens a transport to `url`. May throw synchronously (bad URL): the connection ends in `closed`. */
export type TransportFactory = (url: string, handlers: TransportHandlers) => Transport;

/**
 * A handler slot typed as a method, so that the DOM's and `ws`'s narrower event
 * types are accepted (method parameters are checked bivariantly; React's typings
 * use the same device).
 */
type Slot<E> = { handle(ev: E): unknown }['handle'] | null;

/** The subset of the standard WebSocket the client needs (browsers, Node 22+, `ws`). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: Slot<unknown>;
  onmessage: Slot<{ data: unknown }>;
  onclose: Slot<{ code: number; reason: string }>;
  onerror: Slot<unknown>;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The subset of the standard EventSource the SSE transport needs (browsers, the `eventsource` package). */
export interface EventSourceLike {
  addEventListener(type: string, listener: (event: { data?: unknown }) => void): void;
  close(): void;
}

export type EventSourceConstructor = new (url: string) => EventSourceLike;

/** The fetch the HTTP transports and the health probe call (`globalThis.fetch` fits). */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

const OPEN = 1;
const CONNECTING = 0;

/** A Transport over a standard WebSocket constructor. */
export function webSocketTransport(WebSocketImpl: WebSocketConstructor): TransportFactory {
  return (url, handlers) => {
    const ws = new WebSocketImpl(url);
    let attached = true;
    const detach = (): void => {
      attached = false;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    };
    ws.onopen = () => {
      if (attached) handlers.onOpen();
    };
    ws.onmessage = (ev) => {
      if (!attached || typeof ev.data !== 'string') return;
      let frame: unknown;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return; // The server only sends JSON text; anything else is not ours to act on.
      }
      if (typeof frame === 'object' && frame !== null) handlers.onFrame(frame as ServerFrame);
    };
    ws.onclose = (ev) => {
      if (!attached) return;
      detach();
      handlers.onClose(ev.code, ev.reason);
    };
    // An error is always followed by a close event, which carries the code we act on.
    ws.onerror = () => undefined;
    return {
      send(frame) {
        // Never send on a socket that is not open: the machine decides what happens next.
        if (attached && ws.readyState === OPEN) ws.send(JSON.stringify(frame));
      },
      close(code, reason) {
        detach();
        if (ws.readyState === OPEN || ws.readyState === CONNECTING) {
          try {
            ws.close(code, reason);
          } catch {
            ws.close();
          }
        }
      },
    };
  };
}
