/**
 * `@taskwire/client/fallback`: `createClient` with the SSE and long-poll transports
 * behind the WebSocket, for networks whose proxies refuse WebSocket upgrades (or
 * SSE). A separate entry so that apps that don't need it keep the core small.
 *
 * ```ts
 * import { createClient } from '@taskwire/client/fallback';
 * const client = createClient({ url: 'wss://example.com/api/v1/ws', getToken });
 * client.on('state', (e) => console.log(e.newState, 'over', e.transport));
 * ```
 */
import { TaskwireClient, type ClientOptions, type TransportExtras } from './client.js';
import type { EventSourceConstructor, FetchLike, TransportFactory } from './transport.js';
import { httpBase } from './transports/http.js';
import { longPollTransport } from './transports/longpoll.js';
import { sseTransport } from './transports/sse.js';

/** Does plain HTTP reach the server? `GET /healthz`: every answer below 500 within 5 s counts (a proxy's 502: no). */
async function probe(fetchImpl: FetchLike, url: string): Promise<boolean> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 5_000);
  try {
    return (await fetchImpl(url, { method: 'GET', signal: ctl.signal })).status < 500;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** The SSE (where an EventSource exists) and long-poll factories, and the probe, for these options. */
export function httpTransports(opts: ClientOptions): TransportExtras {
  const fetchImpl: FetchLike = opts.fetch ?? ((url, init) => fetch(url, init));
  const EventSourceImpl = opts.EventSource ?? (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
  const factories: Partial<Record<'sse' | 'longpoll', TransportFactory>> = { longpoll: longPollTransport(fetchImpl) };
  if (EventSourceImpl) factories.sse = sseTransport(EventSourceImpl, fetchImpl);
  const healthz = `${httpBase(opts.url).replace(/\/api\/v1$/, '')}/healthz`;
  return { factories, probe: () => probe(fetchImpl, healthz) };
}

/** `createClient` of `@taskwire/client`, with WebSocket → SSE → long-poll fallback (see `transports`). */
export function createClient(opts: ClientOptions): TaskwireClient {
  return new TaskwireClient(opts, httpTransports(opts));
}

export { sseTransport, longPollTransport };
export type { EventSourceConstructor, EventSourceLike, FetchLike } from './transport.js';
export type { TransportName } from './fallback.js';
