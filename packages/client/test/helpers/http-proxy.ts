/**
 * An HTTP proxy for the fallback tests (node:http), like a corporate proxy that
 * only speaks plain HTTP: it forwards requests to the real server, streaming the
 * answers (SSE included, chunk by chunk), but refuses WebSocket upgrades (`400`, or
 * drops the connection; `forward` lets them through), and can also refuse
 * Server-Sent Events (`403` for `Accept: text/event-stream` or the events route).
 * `outage(true)` cuts every connection and answers everything with 502, as a proxy
 * whose backend is unreachable, while the server itself keeps running. It records
 * every forwarded URL, so a test can check what travelled in them.
 */
import http from 'node:http';
import net from 'node:net';

export type UpgradeMode = 'refuse' | 'drop' | 'forward';

export interface HttpProxyOptions {
  /** What a WebSocket upgrade gets: `refuse` (400), `drop` (connection destroyed) or `forward`. @default 'refuse' */
  upgrade?: UpgradeMode;
  /** Refuse Server-Sent Events with 403. @default false */
  refuseSse?: boolean;
}

export interface HttpProxy {
  readonly port: number;
  /** Upgrade requests refused. */
  readonly upgrades: number;
  /** SSE requests refused. */
  readonly sseRefused: number;
  /** Every forwarded request, as `METHOD url`. */
  readonly requests: readonly string[];
  refuseSse(value: boolean): void;
  setUpgrade(mode: UpgradeMode): void;
  /** Cut every connection (streams, polls, sockets) and answer 502 until `outage(false)`. */
  outage(value: boolean): void;
  close(): Promise<void>;
}

const isSse = (req: http.IncomingMessage): boolean =>
  (req.headers.accept ?? '').includes('text/event-stream') || /\/events(\?|$)/.test(req.url ?? '');

export async function startHttpProxy(targetPort: number, opts: HttpProxyOptions = {}): Promise<HttpProxy> {
  let upgrades = 0;
  let sseRefused = 0;
  let refuseSse = opts.refuseSse ?? false;
  let upgrade: UpgradeMode = opts.upgrade ?? 'refuse';
  let down = false;
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    if (down) {
      res.writeHead(502, { 'content-type': 'text/plain', connection: 'close' }).end('bad gateway');
      return;
    }
    if (refuseSse && isSse(req)) {
      sseRefused += 1;
      res.writeHead(403, { 'content-type': 'text/plain' }).end('event streams are not allowed here');
      return;
    }
    requests.push(`${req.method ?? 'GET'} ${req.url ?? '/'}`);
    const upstream = http.request(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    upstream.on('error', () => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway');
    });
    req.pipe(upstream);
    // The client went away (an EventSource closed, a poll aborted): end the upstream request too.
    res.on('close', () => upstream.destroy());
  });
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    if (upgrade === 'forward' && !down) return forwardUpgrade(targetPort, req, socket, head, sockets);
    upgrades += 1;
    if (upgrade === 'drop' || down) socket.destroy();
    else socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy is not on TCP');
  return {
    port: address.port,
    get upgrades() {
      return upgrades;
    },
    get sseRefused() {
      return sseRefused;
    },
    requests,
    refuseSse(value) {
      refuseSse = value;
    },
    setUpgrade(mode) {
      upgrade = mode;
    },
    outage(value) {
      down = value;
      if (value) for (const socket of Array.from(sockets)) socket.destroy();
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Let a WebSocket handshake through: replay the request head upstream, then pipe both ways. */
function forwardUpgrade(
  targetPort: number,
  req: http.IncomingMessage,
  socket: net.Socket,
  head: Buffer,
  sockets: Set<net.Socket>,
): void {
  const upstream = net.connect(targetPort, '127.0.0.1', () => {
    const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    socket.pipe(upstream).pipe(socket);
  });
  sockets.add(upstream);
  const end = (): void => {
    sockets.delete(upstream);
    socket.destroy();
    upstream.destroy();
  };
  upstream.on('error', end).on('close', end);
  socket.on('error', end).on('close', end);
}
