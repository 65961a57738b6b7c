/** What the WebSocket endpoint exposes to createServer() (stats, leak checks, shutdown). */
export interface WebSocketGateway {
  /** Open (or authenticating) connections on this node. */
  connectionCount(): number;
  /** Of those, the sockets that have not authenticated yet (they hold no connection slot). */
  pendingAuthCount(): number;
  /** Live per-connection timers (auth timeout, token expiry, close grace). Zero when idle: leak tests check it. */
  timerCount(): number;
  /** Slow-consumer (4009) closes since start. */
  slowConsumerCloses(): number;
  /** Close every connection with `code` (1012 on shutdown) and stop the heartbeat; resolves when all are closed or after `timeoutMs`. */
  closeAll(code: number, reason: string, timeoutMs: number): Promise<void>;
}
