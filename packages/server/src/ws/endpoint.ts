/**
 * The WebSocket endpoint: exactly one route, `GET /ws` (mounted under `/api/v1` by
 * the caller), which answers a plain GET with 426; the upgrade itself is taken from
 * the HTTP server's `upgrade` event for exactly that path and handed to a `ws`
 * server (`noServer`, `maxPayload: config.maxFrameBytes`: ws closes 1009 above it),
 * as Socket.IO and ws's own servers attach. An upgrade costs no Fastify request,
 * reply or child logger, and nothing of the handshake outlives it (the upgrade
 * request and its socket are not tied to any HTTP response). Upgrades to other paths
 * are left to the host's other `upgrade` listeners; with none, they are refused with
 * 404. A host app that registered @fastify/websocket before taskwire upgrades every
 * path itself, through Fastify: then the route's `wsHandler` takes the socket and
 * taskwire adds no listener. The caller calls `closeAll(1012, …)` from a preClose
 * hook (see plugin.ts).
 *
 * - The handshake always completes; authentication follows (first `auth` frame,
 *   `?token=` or `?ticket=`), so a refused client always gets an error frame and a
 *   close code. A plain HTTP GET (no upgrade) gets 426 and a JSON error body.
 * - Node connection limit → error frame `limit_exceeded` + close 4029.
 * - One heartbeat interval for the whole node (unref'd, running only while there
 *   are connections): every `heartbeatMs` each socket is pinged; a socket that
 *   missed two consecutive pongs is terminated.
 * - No listener per socket: the sockets of the endpoint's own ws server are an
 *   `EndpointSocket`, whose `emit` hands `message`, `pong`, `close` and `error` to the
 *   endpoint's shared handlers (four listeners made each socket's event table a
 *   dictionary of ~280 bytes and cost four `on` calls per connect). Sockets a host's
 *   @fastify/websocket upgraded get the same handlers as listeners.
 * - The request URL may carry a credential: only a redacted URL is ever logged.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { TUNING } from '../config/options.js';
import type { ServerConfig } from '../config/types.js';
import { SECURITY, errorResponses } from '../http/openapi-schemas.js';
import { redactUrl } from '../logging/logger.js';
import { newConnectionId } from '../util/random-id.js';
import { CLOSE } from './connection-parts.js';
import { Connection } from './connection.js';
import type { ConnectionDeps, Credential } from './connection-types.js';
import type { WebSocketGateway } from './types.js';
import { Wire } from './wire.js';

/** What the endpoint needs of the node (the app's context has all of it). */
export interface WebSocketContext {
  readonly config: ServerConfig;
  readonly channels: ConnectionDeps['channels'];
  readonly auth: ConnectionDeps['auth'];
  readonly logger: Logger;
  readonly metrics: { readonly delivered: { ws: number } };
}

export interface WebSocketEndpointOptions {
  /** How long a socket we closed may take to finish closing before it is terminated (default `TUNING.closeGraceMs`). */
  closeGraceMs?: number;
}

type GatewayPhase = 'running' | 'closing';

/** The endpoint's handlers of a socket's events; `this` is the socket. */
interface SocketHandlers {
  message(this: WebSocket, data: RawData, isBinary: boolean): void;
  pong(this: WebSocket): void;
  close(this: WebSocket): void;
  error(this: WebSocket, err: Error): void;
}

/**
 * A socket of the endpoint's own ws server (its `WebSocket` option): once `handlers`
 * is set, its `message`, `pong`, `close` and `error` events go to them and to nothing
 * else (nobody else holds these sockets); every other event is emitted as usual.
 */
class EndpointSocket extends WebSocket {
  handlers: SocketHandlers | null = null;

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const h = this.handlers;
    if (h !== null) {
      switch (event) {
        case 'message':
          h.message.call(this, args[0] as RawData, args[1] as boolean);
          return true;
        case 'pong':
          h.pong.call(this);
          return true;
        case 'close':
          h.close.call(this);
          return true;
        case 'error':
          h.error.call(this, args[0] as Error);
          return true;
      }
    }
    return super.emit(event, ...args);
  }
}

const WS_SCHEMA = {
  summary: 'The WebSocket endpoint (the only one)',
  description:
    'Upgrade to a WebSocket speaking the taskwire protocol (JSON text frames), specified in docs/protocol.md § "WebSocket". The handshake always completes; authentication follows (a first `{"op":"auth","token":"…"}` frame, or `?token=` / `?ticket=`), so a refused client always gets an `error` frame and a close code (4501, 4001, …). A plain GET without Upgrade answers 426.',
  tags: ['realtime'],
  security: SECURITY.stream,
  querystring: {
    type: 'object',
    properties: {
      token: { type: 'string', description: 'A client JWT (never logged).' },
      ticket: { type: 'string', description: 'A single-use ticket from POST /api/v1/tickets.' },
    },
  },
  response: {
    101: { type: 'null', description: 'Switching Protocols: the WebSocket is open; see docs/protocol.md.' },
    426: {
      description: '`bad_request`: not a WebSocket upgrade request.',
      content: { 'application/json': { schema: { $ref: 'ErrorResponse#' } } },
    },
    ...errorResponses(),
  },
};

const UPGRADE_REQUIRED = {
  error: {
    code: 'bad_request',
    message: 'this endpoint speaks WebSocket only: connect with an Upgrade: websocket request',
  },
} as const;

export function registerWebSocket(
  app: FastifyInstance,
  ctx: WebSocketContext,
  options: WebSocketEndpointOptions = {},
): WebSocketGateway {
  const { config, logger } = ctx;
  const path = `${app.prefix}/ws`;
  /** Every socket of this endpoint, open or closing, with its wire. */
  const wires = new Map<WebSocket, Wire>();
  const timers = { active: 0 };
  // A host app that registered @fastify/websocket before taskwire routes every upgrade through Fastify and
  // wraps every route: then ours is upgraded by it (`wsHandler`), and taskwire adds no listener of its own.
  const viaHost = app.hasDecorator('websocketServer');
  const wss = viaHost
    ? null
    : new WebSocketServer({
        noServer: true,
        maxPayload: config.maxFrameBytes,
        perMessageDeflate: false,
        clientTracking: false,
        WebSocket: EndpointSocket,
      });
  /**
   * Sockets still authenticating, oldest first. They hold no connection slot (a
   * socket without a credential cannot keep users out); they have their own budget,
   * `maxPendingAuth`, and when it is full the oldest is closed 4501 to admit the new one.
   */
  const pending = new Set<Wire>();
  let slowConsumerCloses = 0;
  let phase: GatewayPhase = 'running';
  let heartbeat: NodeJS.Timeout | null = null;
  let idleWaiters: Array<() => void> = [];

  const deps: ConnectionDeps<Wire> = {
    config,
    channels: ctx.channels,
    auth: ctx.auth,
    logger,
    timers,
    closeGraceMs: options.closeGraceMs ?? TUNING.closeGraceMs,
    delivered: ctx.metrics.delivered,
    onAuthSettled(conn) {
      pending.delete(conn.socket);
    },
    onSlowConsumer() {
      slowConsumerCloses += 1;
    },
    onClosed(conn) {
      pending.delete(conn.socket);
      if (!wires.delete(conn.socket.ws)) return;
      logger.debug({ connection: conn.id, user: conn.user }, 'ws: connection closed');
      if (wires.size > 0) return;
      stopHeartbeat();
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const resolve of waiters) resolve();
    },
  };

  // One listener of each kind for every socket: `this` is the socket, its wire is in `wires`.
  function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
    // ws enforces maxPayload on the sockets it upgrades for taskwire; a host's @fastify/websocket has its own.
    if (viaHost && byteLengthOf(data) > config.maxFrameBytes) return this.close(1009, 'message too big');
    wires.get(this)?.conn.onMessage(isBinary ? null : rawToString(data));
  }
  function onPong(this: WebSocket): void {
    const wire = wires.get(this);
    if (wire) wire.missed = 0;
  }
  function onClose(this: WebSocket): void {
    wires.get(this)?.conn.onSocketClosed();
  }
  // ws protocol errors (an oversized or malformed frame) are the client's fault: debug, not error.
  function onError(this: WebSocket, err: Error): void {
    logger.debug({ err, connection: wires.get(this)?.conn.id }, 'ws: socket error');
    // A protocol error already started the close handshake (e.g. 1009): let it finish.
    if (this.readyState === this.OPEN || this.readyState === this.CONNECTING) this.terminate();
  }

  const handlers: SocketHandlers = { message: onMessage, pong: onPong, close: onClose, error: onError };

  function tick(): void {
    for (const wire of Array.from(wires.values())) {
      if (wire.missed >= 2) {
        wire.terminate();
        continue;
      }
      wire.missed += 1;
      try {
        wire.ws.ping();
      } catch {
        wire.terminate();
      }
    }
  }

  function startHeartbeat(): void {
    if (heartbeat || phase !== 'running') return;
    heartbeat = setInterval(tick, config.heartbeatMs);
    heartbeat.unref();
  }

  function stopHeartbeat(): void {
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = null;
  }

  function onConnection(ws: WebSocket, raw: Socket, url: string): void {
    const id = newConnectionId();
    const wire = new Wire(ws, raw);
    const conn = new Connection(id, wire, deps);
    wire.conn = conn;
    wires.set(ws, wire);
    if (ws instanceof EndpointSocket) ws.handlers = handlers;
    else {
      ws.on('message', onMessage);
      ws.on('pong', onPong);
      ws.on('close', onClose);
      ws.on('error', onError);
    }
    if (logger.isLevelEnabled('debug'))
      logger.debug({ connection: id, url: redactUrl(url) }, 'ws: connection accepted');

    if (phase !== 'running') return conn.closeWith(CLOSE.restarting, 'the server is restarting');
    if (pending.size >= config.maxPendingAuth) {
      const oldest = pending.values().next();
      if (!oldest.done) {
        pending.delete(oldest.value);
        oldest.value.conn.closeWith(
          CLOSE.authTimeout,
          'authentication timeout: too many connections waiting to authenticate',
        );
      }
    }
    pending.add(wire);
    startHeartbeat();
    conn.start(credentialOf(url));
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if ((q < 0 ? url : url.slice(0, q)) !== path) {
      // Another path: the host's own upgrade listeners may take it; with none, nobody would answer.
      if (app.server.listenerCount('upgrade') === 1) refuse(socket, 404, 'Not Found');
      return;
    }
    wss?.handleUpgrade(req, socket, head, (ws) => onConnection(ws, socket as Socket, url));
  }

  const route: RouteOptions & { wsHandler?: (ws: WebSocket, request: FastifyRequest) => void } = {
    method: 'GET',
    url: '/ws',
    schema: WS_SCHEMA,
    // The query schema documents; a refused handshake would hide the reason from the client.
    attachValidation: true,
    handler(request: FastifyRequest, reply: FastifyReply) {
      // An upgrade routed here by a host's upgrade listener added after taskwire's was upgraded by
      // taskwire's (listeners run in order): leave its socket alone.
      if (request.headers.upgrade?.toLowerCase() === 'websocket') return reply.hijack();
      return reply.code(426).header('upgrade', 'websocket').send(UPGRADE_REQUIRED);
    },
    wsHandler: (ws, request) => onConnection(ws, request.raw.socket, request.url),
  };
  app.route(route);
  if (wss) {
    app.server.on('upgrade', onUpgrade);
    app.addHook('onClose', (_instance, done) => {
      app.server.off('upgrade', onUpgrade);
      wss.close(() => done());
    });
  }

  return {
    connectionCount: () => wires.size,
    pendingAuthCount: () => pending.size,
    timerCount: () => timers.active,
    slowConsumerCloses: () => slowConsumerCloses,
    async closeAll(code: number, reason: string, timeoutMs: number): Promise<void> {
      phase = 'closing';
      stopHeartbeat();
      for (const wire of Array.from(wires.values())) wire.conn.closeWith({ code, reason });
      if (wires.size === 0) return;
      let timeout: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        timeout = setTimeout(resolve, timeoutMs);
        timeout.unref();
      });
      clearTimeout(timeout);
      for (const wire of Array.from(wires.values())) wire.terminate();
    },
  };
}

/** Answer an upgrade nobody takes, and drop the socket. */
function refuse(socket: Duplex, status: number, text: string): void {
  if (!socket.writable) return void socket.destroy();
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** `?ticket=` or `?token=` of the upgrade URL (a ticket wins). */
function credentialOf(url: string): Credential | null {
  const q = url.indexOf('?');
  if (q < 0) return null;
  const params = new URLSearchParams(url.slice(q + 1));
  const ticket = params.get('ticket');
  if (ticket) return { kind: 'ticket', value: ticket };
  const token = params.get('token');
  if (token) return { kind: 'token', value: token };
  return null;
}

function byteLengthOf(data: RawData): number {
  return Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
