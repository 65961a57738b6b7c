/**
 * The shared half of the HTTP transports (SSE and long-poll): a Transport that
 * emulates the WebSocket protocol for the connection above it, so positions,
 * recovery, dedup and the state machine stay exactly as they are.
 *
 * - `auth` keeps the token and proves the path works (`verify`); then a synthetic
 *   `welcome` names the user from the token's `sub` (decoded, not verified: the
 *   server verifies every request). `heartbeatMs` is 0: there is no socket to watch;
 *   each HTTP transport notices a dead server through its own requests.
 * - `refresh` replaces the token; `ping` is answered locally.
 * - `publish` is `POST /channels/:channel/publish` with `Authorization: Bearer`.
 * - `subscribe` / `unsubscribe` start and stop one channel runner (`open`).
 * - Every request runs under the transport's life signal: `close()` aborts them all,
 *   and nothing reaches the handlers after it.
 */
import type { ClientFrame, ErrorBody, ErrorCode, EventFrame, ServerFrame, SubscribeFrame } from '@taskwire/protocol';
import { tokenClaims } from '../jwt.js';
import type { FetchLike, Transport, TransportHandlers } from '../transport.js';

/** An HTTP answer; `status` 0 when none came (network error, timeout, abort). */
export interface Answer {
  status: number;
  body: unknown;
}

/** The body of `GET /channels/:channel/history`. */
export interface HistoryAnswer {
  channel: string;
  epoch: string;
  offset: number;
  recovered: boolean;
  events: EventFrame[];
}

export interface Link {
  /** `http(s)://host/…/api/v1` */
  readonly base: string;
  /** Aborted when the transport closes. */
  readonly signal: AbortSignal;
  /** From `auth`, then the latest `refresh`. */
  token: string;
  /** A request with `Authorization: Bearer`; never rejects. */
  call(method: string, path: string, body?: unknown, signal?: AbortSignal, timeoutMs?: number): Promise<Answer>;
  frame(frame: ServerFrame): void;
  /** Close the whole transport with this code: the connection reconnects (or not) by its range. */
  fail(code: number, reason: string): void;
}

export interface Emulation {
  name: string;
  /** Prove this transport works for the token (a first stream, a first poll); on failure call `link.fail`. */
  verify(link: Link, user: string): Promise<boolean>;
  /** Start a subscription; the returned function stops it. */
  open(link: Link, frame: SubscribeFrame): () => void;
}

const CODES: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'too_large',
  429: 'rate_limited',
  503: 'unavailable',
};

/** `ws(s)://host/…/api/v1/ws` → `http(s)://host/…/api/v1`. */
export function httpBase(url: string): string {
  const u = new URL(url.replace(/^ws/i, 'http'));
  return u.origin + u.pathname.replace(/\/ws\/?$/, '');
}

/** `/channels/<encoded name>` */
export const channelPath = (channel: string): string => `/channels/${encodeURIComponent(channel)}`;

export const position = (p: { epoch: string; offset: number }): string => `${p.epoch}:${p.offset}`;

/** The JSON error body of an answer, or one made from its status. */
export function errorOf(a: Answer): ErrorBody {
  const body = a.body as { error?: ErrorBody } | undefined;
  return body?.error ?? { code: CODES[a.status] ?? 'unavailable', message: `HTTP ${a.status || 'unreachable'}` };
}

/** The close code for an HTTP failure: 401 renews the token, 429 backs off long, the rest retries. */
export function closeCode(status: number): number {
  if (status === 401) return 4001;
  if (status === 429) return 4029;
  if (status === 503) return 1012;
  return status >= 500 ? 1011 : 1006;
}

/**
 * A channel request was not answered 200: 400/403/404 end the subscription (a reply
 * error before the reply, `unsubscribed` after it); anything else closes the transport.
 */
export function refused(link: Link, a: Answer, f: SubscribeFrame, replied: boolean): void {
  if (a.status !== 400 && a.status !== 403 && a.status !== 404) {
    return link.fail(closeCode(a.status), `${f.channel}: ${errorOf(a).message}`);
  }
  const error = errorOf(a);
  link.frame(
    replied
      ? { type: 'unsubscribed', channel: f.channel, code: error.code, message: error.message, resubscribe: false }
      : { type: 'reply', id: f.id, error },
  );
}

/** An AbortController that also aborts when `parent` does. */
export function linked(parent: AbortSignal): AbortController {
  const ctl = new AbortController();
  const abort = (): void => ctl.abort();
  if (parent.aborted) abort();
  else parent.addEventListener('abort', abort, { once: true });
  ctl.signal.addEventListener('abort', () => parent.removeEventListener('abort', abort), { once: true });
  return ctl;
}

export function emulated(url: string, h: TransportHandlers, fetchImpl: FetchLike, how: Emulation): Transport {
  const life = new AbortController();
  const subs = new Map<string, () => void>();
  const close = (): void => {
    life.abort();
    for (const stop of subs.values()) stop();
    subs.clear();
  };
  const link: Link = {
    base: httpBase(url),
    signal: life.signal,
    token: '',
    async call(method, path, body, signal = life.signal, timeoutMs = 10_000) {
      const ctl = linked(signal);
      const timer = setTimeout(() => ctl.abort(), timeoutMs);
      try {
        const res = await fetchImpl(link.base + path, {
          method,
          headers: {
            authorization: `Bearer ${link.token}`,
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          body: body !== undefined ? JSON.stringify(body) : null,
          signal: ctl.signal,
        });
        const text = await res.text();
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        return { status: res.status, body: parsed };
      } catch {
        return { status: 0, body: undefined };
      } finally {
        clearTimeout(timer);
        ctl.abort(); // detaches it from `signal`
      }
    },
    frame(frame) {
      if (!life.signal.aborted) h.onFrame(frame);
    },
    fail(code, reason) {
      if (life.signal.aborted) return;
      close();
      h.onClose(code, reason);
    },
  };
  const reply = (id: number, result: object): void => link.frame({ type: 'reply', id, result } as ServerFrame);
  const welcome = async (): Promise<void> => {
    const sub = tokenClaims(link.token).sub;
    const user = typeof sub === 'string' ? sub : '';
    // The server refuses a client token without `sub` too (a WebSocket would get 4501).
    if (!user) return link.fail(4501, 'the token has no sub: not a client JWT');
    try {
      if (!(await how.verify(link, user))) return;
    } catch (err) {
      return link.fail(1006, String(err));
    }
    const serverTime = Date.now();
    link.frame({ type: 'welcome', protocol: 1, connectionId: how.name, user, heartbeatMs: 0, serverTime });
  };
  // Like a socket, it opens after the factory returned (the connection must know it first).
  setTimeout(() => {
    if (!life.signal.aborted) h.onOpen();
  }, 0);
  return {
    send(f: ClientFrame) {
      if (life.signal.aborted) return;
      switch (f.op) {
        case 'auth':
          link.token = f.token;
          return void welcome();
        case 'refresh':
          link.token = f.token;
          return reply(f.id, {});
        case 'ping':
          return reply(f.id, {});
        case 'publish':
          return void link
            .call('POST', `${channelPath(f.channel)}/publish`, { data: f.data, idempotencyKey: f.idempotencyKey })
            .then((a) =>
              a.status === 200
                ? reply(f.id, a.body as object)
                : link.frame({ type: 'reply', id: f.id, error: errorOf(a) }),
            );
        case 'stream':
          return void link
            .call('GET', `/tasks/${encodeURIComponent(f.task)}/streams/${encodeURIComponent(f.stream ?? 'output')}`)
            .then((a) =>
              a.status === 200
                ? reply(f.id, a.body as object)
                : link.frame({ type: 'reply', id: f.id, error: errorOf(a) }),
            );
        case 'subscribe':
          subs.get(f.channel)?.();
          subs.set(f.channel, how.open(link, f));
          return;
        case 'unsubscribe':
          subs.get(f.channel)?.();
          subs.delete(f.channel);
          return reply(f.id, {});
      }
    },
    close,
  };
}
