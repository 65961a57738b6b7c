/**
 * The WebSocket endpoint: exactly one route, `GET /ws` (mounted under `/api/v1` by
 * the caller). The caller registers `@fastify/websocket` once, in the same scope,
 * with `maxPayload: config.maxFrameBytes` (ws closes 1009 above it) and calls
 * `closeAll(1012, …)` from a preClose hook that runs before the plugin's own (see
 * plugin.ts).
 *
 * - The handshake always completes; authentication follows (first `auth` frame,
 *   `?token=` or `?ticket=`), so a refused client always gets an error frame and a
 *   close code. A plain HTTP GET (no upgrade) gets 426 and a JSON error body.
 * - Node connection limit → error frame `limit_exceeded` + close 4029.
 * - One heartbeat interval for the whole node (unref'd, running only while there
 *   are connections): every `heartbeatMs` each socket is pinged; a socket that
 *   missed two consecutive pongs is terminated.
 * - The request URL may carry a credential: only a redacted URL is ever logged.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import type { ServerContext } from '../context.js';
import { SECURITY, errorResponses } from '../http/openapi-schemas.js';
import { redactUrl } from '../logger.js';
import { CLOSE } from './connection-parts.js';
import { Connection, type ConnectionDeps, type Credential, type WireSocket } from './connection.js';
import type { WebSocketGateway } from './types.js';

export interface WebSocketEndpointOptions {
  /** How long a socket we closed may take to finish closing before it is terminated (default 2000 ms). */
  closeGraceMs?: number;
}

interface Peer {
  readonly ws: WebSocket;
  /** Pings sent since the last pong. */
  missed: number;
}

type GatewayPhase = 'running' | 'closing';

const TEXT = { binary: false } as const;
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

/** A complete unmasked text frame (RFC 6455 §5.2): FIN + opcode 1, the payload length, the payload. */
export function textFrame(payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + n);
  out[0] = 0x81;
  if (n < 126) out[1] = n;
  else if (n < 65_536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  payload.copy(out, head);
  return out;
}

/**
 * The event being broadcast → its WebSocket frame. The Hub hands every subscriber the
 * same Buffer for one event, one after the other, so one entry frames each event once
 * (Socket.IO's broadcast does the same with `wsPreEncodedFrame`).
 */
class SharedFrame {
  private payload: Buffer | null = null;
  private frame: Buffer = Buffer.alloc(0);

  of(payload: Buffer): Buffer {
    if (payload !== this.payload) {
      this.frame = textFrame(payload);
      this.payload = payload;
    }
    return this.frame;
  }
}

/**
 * Let the upgrade's HTTP objects go once the WebSocket is open: the TCP socket keeps the
 * ServerResponse @fastify/websocket made to route the upgrade (`_httpMessage`, holding the
 * IncomingMessage), and the plugin's 'error' listener closes over the Fastify request and
 * reply (~3 KB of heap per connection, docs/performance.md). The replacement listener does
 * what the errorHandler given to the plugin (plugin.ts) does.
 */
function releaseHandshake(ws: WebSocket, raw: Socket, request: FastifyRequest, logger: Logger, id: string): void {
  const held = raw as Socket & { _httpMessage?: { req?: unknown } | null };
  if (held._httpMessage?.req === request.raw) held._httpMessage = null;
  ws.removeAllListeners('error');
  ws.on('error', (err) => {
    logger.debug({ err, connection: id }, 'ws: socket error');
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.terminate();
  });
}

export function registerWebSocket(
  app: FastifyInstance,
  ctx: ServerContext,
  options: WebSocketEndpointOptions = {},
): WebSocketGateway {
  const { config, logger } = ctx;
  const registry = new Map<Connection, Peer>();
  const userConnections = new Map<string, number>();
  const timers = { active: 0 };
  const shared = new SharedFrame();
  let slowConsumerCloses = 0;
  let phase: GatewayPhase = 'running';
  let heartbeat: NodeJS.Timeout | null = null;
  let idleWaiters: Array<() => void> = [];

  const deps: ConnectionDeps = {
    config,
    hub: ctx.hub,
    engine: ctx.engine,
    auth: ctx.auth,
    logger,
    timers,
    closeGraceMs: options.closeGraceMs ?? 2000,
    delivered: ctx.metrics.delivered,
    users: {
      acquire(sub) {
        const n = userConnections.get(sub) ?? 0;
        if (n >= config.maxConnectionsPerUser) return false;
        userConnections.set(sub, n + 1);
        return true;
      },
      release(sub) {
        const n = (userConnections.get(sub) ?? 1) - 1;
        if (n > 0) userConnections.set(sub, n);
        else userConnections.delete(sub);
      },
    },
    onSlowConsumer() {
      slowConsumerCloses += 1;
    },
    onClosed(conn) {
      if (!registry.delete(conn)) return;
      logger.debug({ connection: conn.id, user: conn.user }, 'ws: connection closed');
      if (registry.size > 0) return;
      stopHeartbeat();
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const resolve of waiters) resolve();
    },
  };

  function tick(): void {
    for (const peer of Array.from(registry.values())) {
      if (peer.missed >= 2) {
        peer.ws.terminate();
        continue;
      }
      peer.missed += 1;
      try {
        peer.ws.ping();
      } catch {
        peer.ws.terminate();
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

  function onConnection(ws: WebSocket, request: FastifyRequest): void {
    const id = `c_${randomBytes(12).toString('base64url')}`;
    // The upgraded TCP socket ws writes to. With no extension negotiated (taskwire never enables
    // permessage-deflate) ws's Sender writes synchronously, so an event frame written here stays in
    // order with ws's own replies, pings and close frame, and ws.bufferedAmount still counts it.
    const raw = request.raw.socket;
    const direct = ws.extensions === '';
    releaseHandshake(ws, raw, request, logger, id);
    const socket: WireSocket = {
      send: (data) => {
        if (direct && typeof data !== 'string' && ws.readyState === ws.OPEN) raw.write(shared.of(data));
        else ws.send(data, TEXT);
      },
      close: (code, reason) => ws.close(code, reason),
      terminate: () => ws.terminate(),
      get bufferedAmount() {
        return ws.bufferedAmount;
      },
    };
    const conn = new Connection(id, socket, deps);
    const peer: Peer = { ws, missed: 0 };
    const full = registry.size >= config.maxConnections;
    registry.set(conn, peer);
    ws.on('message', (data: RawData, isBinary: boolean) => conn.onMessage(isBinary ? null : rawToString(data)));
    ws.on('pong', () => {
      peer.missed = 0;
    });
    ws.on('close', () => conn.onSocketClosed());
    logger.debug({ connection: id, url: redactUrl(request.url) }, 'ws: connection accepted');

    if (phase !== 'running') return conn.closeWith(CLOSE.restarting, 'the server is restarting');
    if (full) return conn.closeWith(CLOSE.connectionLimit, 'this node has reached its connection limit');
    startHeartbeat();
    conn.start(credentialOf(request.query));
  }

  app.route({
    method: 'GET',
    url: '/ws',
    schema: WS_SCHEMA,
    // The query schema documents; a refused handshake would hide the reason from the client.
    attachValidation: true,
    handler(_request: FastifyRequest, reply: FastifyReply) {
      return reply.code(426).header('upgrade', 'websocket').send(UPGRADE_REQUIRED);
    },
    wsHandler: onConnection,
  });

  return {
    connectionCount: () => registry.size,
    timerCount: () => timers.active,
    slowConsumerCloses: () => slowConsumerCloses,
    async closeAll(code: number, reason: string, timeoutMs: number): Promise<void> {
      phase = 'closing';
      stopHeartbeat();
      for (const conn of Array.from(registry.keys())) conn.closeWith({ code, reason });
      if (registry.size === 0) return;
      let timeout: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        timeout = setTimeout(resolve, timeoutMs);
        timeout.unref();
      });
      clearTimeout(timeout);
      for (const peer of Array.from(registry.values())) peer.ws.terminate();
    },
  };
}

function credentialOf(query: unknown): Credential | null {
  if (typeof query !== 'object' || query === null) return null;
  const { ticket, token } = query as { ticket?: unknown; token?: unknown };
  if (typeof ticket === 'string' && ticket !== '') return { kind: 'ticket', value: ticket };
  if (typeof token === 'string' && token !== '') return { kind: 'token', value: token };
  return null;
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
