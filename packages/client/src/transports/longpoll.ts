/**
 * The long-poll transport: per subscribed channel, one strictly sequential loop of
 * `GET /api/v1/channels/:channel/history?since=<epoch>:<offset>&wait=25&limit=100`
 * with `Authorization: Bearer` (docs/protocol.md §4), behind the transport seam. Each poll
 * starts where the last event it delivered ended, so the stream is gapless; the
 * subscription's dedup drops anything seen twice.
 *
 * - `auth` is proven by a first history read of `user:<sub>` before the synthetic `welcome`.
 * - `subscribe`: the first read gives the reply: with `since`, the events after it
 *   (`recovered: true`, the reply's offset at the last one, the loop fetches the rest)
 *   or `recovered: false`; without, the channel's position and the latest `history`
 *   events. Task channels that need a snapshot (fresh, or not recovered) read
 *   `GET /tasks/:id` (404 → null: the task does not exist yet).
 * - A poll that answers `recovered: false` (history trimmed under a slow client) ends
 *   the subscription with `resubscribe: true`: the resubscribe gets the snapshot.
 * - 401 → close 4001 (token renewal); 403/404 → the subscription's error; a network
 *   error, a 5xx or a poll with no answer in wait + 10 s → close with a retryable code.
 * - `unsubscribe` and `close()` abort the poll under way (the server forgets it at once).
 */
import type { SubscribeFrame, SubscribeResult, Task } from '@taskwire/protocol';
import type { FetchLike, TransportFactory } from '../transport.js';
import { channelPath, closeCode, emulated, linked, position, refused, type HistoryAnswer, type Link } from './http.js';

/** Seconds a poll waits on the server. */
export const POLL_WAIT_S = 25;
const LIMIT = 100;

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

async function verify(link: Link, user: string): Promise<boolean> {
  const a = await link.call('GET', `${channelPath(`user:${user}`)}/history?limit=0`);
  if (a.status === 200) return true;
  link.fail(closeCode(a.status), `history: HTTP ${a.status || 'unreachable'}`);
  return false;
}

async function run(link: Link, f: SubscribeFrame, signal: AbortSignal): Promise<void> {
  const { channel, since } = f;
  const path = `${channelPath(channel)}/history?limit=`;
  const get = (query: string, timeoutMs?: number) => link.call('GET', path + query, undefined, signal, timeoutMs);
  let a = await get(since ? `${LIMIT}&since=${position(since)}` : `${f.history ?? 0}`);
  if (signal.aborted) return;
  if (a.status !== 200) return refused(link, a, f, false);
  let h = a.body as HistoryAnswer;
  const result: SubscribeResult = { channel, epoch: h.epoch, offset: h.offset, events: h.events };
  if (since) {
    result.recovered = h.recovered;
    // The reply ends where its events end; the loop fetches what comes after.
    if (h.recovered) result.offset = h.events.at(-1)?.offset ?? since.offset;
  }
  if (channel.startsWith('task:') && !result.recovered) {
    const t = await link.call('GET', `/tasks/${encodeURIComponent(channel.slice(5))}`, undefined, signal);
    if (signal.aborted) return;
    if (t.status !== 200 && t.status !== 404) return refused(link, t, f, false);
    result.snapshot = t.status === 200 ? (t.body as Task) : null;
  }
  link.frame({ type: 'reply', id: f.id, result });
  let at = position(result);
  for (;;) {
    const started = Date.now();
    a = await get(`${LIMIT}&since=${at}&wait=${POLL_WAIT_S}`, (POLL_WAIT_S + 10) * 1000);
    if (signal.aborted) return;
    if (a.status !== 200) return refused(link, a, f, true);
    h = a.body as HistoryAnswer;
    if (!h.recovered) {
      return link.frame({
        type: 'unsubscribed',
        channel,
        code: 'unavailable',
        message: 'position lost',
        resubscribe: true,
      });
    }
    for (const event of h.events) link.frame(event);
    const last = h.events.at(-1);
    if (last) at = position(last);
    // An empty answer long before the wait (a server shutting down answers at once): never spin.
    else if (Date.now() - started < (POLL_WAIT_S * 1000) / 2) await pause(1000, signal);
  }
}

export function longPollTransport(fetchImpl: FetchLike): TransportFactory {
  const open = (link: Link, f: SubscribeFrame): (() => void) => {
    const ctl = linked(link.signal);
    run(link, f, ctl.signal).catch((err: unknown) => link.fail(1006, String(err)));
    return () => ctl.abort();
  };
  return (url, handlers) => emulated(url, handlers, fetchImpl, { name: 'longpoll', verify, open });
}
