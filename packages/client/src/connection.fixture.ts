/**
 * The connection driven through a fake transport (test-only, not built): shared by
 * connection.test.ts and session.test.ts. Use it with fake timers.
 */
import type { ClientFrame, ServerFrame } from '@taskwire/protocol';
import { Connection, type RetryEvent, type StateEvent } from './connection.js';
import type { TransportFactory, TransportHandlers } from './transport.js';

export class FakeTransport {
  readonly sent: ClientFrame[] = [];
  closed: { code: number; reason: string } | undefined;
  constructor(readonly handlers: TransportHandlers) {}
  send(frame: ClientFrame): void {
    this.sent.push(frame);
  }
  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }
  /** Server side: open, then answer auth with welcome. */
  accept(heartbeatMs = 25_000, user = 'alice'): void {
    this.handlers.onOpen();
    this.frame({ type: 'welcome', protocol: 1, connectionId: 'c1', user, heartbeatMs, serverTime: Date.now() });
  }
  frame(frame: ServerFrame): void {
    this.handlers.onFrame(frame);
  }
}

/** A connection over fake transports (every one it opened, in order), with exact backoff delays. */
export function setup(opts: { token?: string; getToken?: () => Promise<string> | string } = { token: 't' }) {
  const transports: FakeTransport[] = [];
  const states: StateEvent[] = [];
  const retries: RetryEvent[] = [];
  const factory: TransportFactory = (_url, handlers) => {
    const t = new FakeTransport(handlers);
    transports.push(t);
    return t;
  };
  const conn = new Connection(
    {
      url: 'ws://x/api/v1/ws',
      ...opts,
      transports: [{ name: 'websocket', factory }],
      backoff: { minMs: 500, maxMs: 30_000, longMinMs: 5_000 },
      requestTimeoutMs: 10_000,
      connectTimeoutMs: 10_000,
      random: () => 1, // the top of every jitter range: delays are exact
    },
    {
      state: (e) => states.push(e),
      connected: () => undefined,
      frame: () => undefined,
      error: () => undefined,
      retry: (e) => retries.push(e),
    },
  );
  const last = (): FakeTransport => {
    const t = transports.at(-1);
    if (!t) throw new Error('no transport');
    return t;
  };
  return { conn, transports, states, retries, last };
}
