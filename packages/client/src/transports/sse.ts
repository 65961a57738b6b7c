/**
 * The SSE transport: one `EventSource` per subscribed channel on
 * `GET /api/v1/channels/:channel/events` (docs/protocol.md §4), behind the transport seam.
 *
 * - Credentials: a single-use `?ticket=` from `POST /api/v1/tickets` per stream, so
 *   the long-lived token never travels in a URL; only a server without tickets (404)
 *   gets `?token=`. The position goes in `?lastEventId=<epoch>:<offset>`.
 * - `auth` is proven by a first stream on `user:<sub>` (always the user's to read):
 *   it must open (200, `text/event-stream`) before the synthetic `welcome`, so a proxy
 *   that refuses SSE fails the attempt like a refused WebSocket upgrade.
 * - `subscribe` → the subscribe `reply`: with `since`, at `open` (`recovered: true`;
 *   the stream then replays exactly the missed events); a fresh task channel, from
 *   the stream's `snapshot` block; a fresh other channel, from a history read
 *   (`limit` = the `history` asked for) whose position the stream continues from.
 *   A `resync` block answers `recovered: false`; one that comes after the reply ends
 *   the subscription with `resubscribe: true`, and the resubscribe is answered with it.
 * - `event` blocks → `event` frames; `unsubscribed` → the frame, and the stream closes.
 * - Errors: EventSource would reconnect on its own with a ticket already used, so the
 *   transport closes it. A stream that was open and dropped (a restart, a slow-consumer
 *   cut, an expired token) closes the transport with 1006: the connection reconnects
 *   with backoff and resubscribes with `since`. A stream that never opened is
 *   explained by a plain `GET …/history?limit=0`: 401 → 4001 (token renewal), 403/404
 *   → the subscription's error, 200 → SSE itself is refused (1006), 5xx → retry.
 * - EventSource hides the server's `: ping` comments, so there is no heartbeat to
 *   watch: a silently dead stream is noticed when the browser's EventSource reports it.
 */
import type { EventFrame, SubscribeFrame, SubscribeResult, UnsubscribedFrame } from '@taskwire/protocol';
import type { EventSourceConstructor, FetchLike, TransportFactory } from '../transport.js';
import { channelPath, closeCode, emulated, linked, position, refused, type HistoryAnswer, type Link } from './http.js';

/** A block's JSON, or undefined (never throw inside an EventSource listener). */
function parse<T>(event: { data?: unknown }): T | undefined {
  try {
    return JSON.parse(String(event.data)) as T;
  } catch {
    return undefined;
  }
}

export function sseTransport(EventSourceImpl: EventSourceConstructor, fetchImpl: FetchLike): TransportFactory {
  /** Learned once: false when the server has no tickets (404). */
  let tickets = true;
  /** A `resync` that came after its reply, kept for the resubscribe from `from`. */
  const resyncs = new Map<string, { from: string; result: SubscribeResult }>();

  /** `ticket=…` (or `token=…`), or null after failing the link. */
  async function credential(link: Link): Promise<string | null> {
    if (tickets) {
      const a = await link.call('POST', '/tickets');
      if (a.status === 200) return `ticket=${encodeURIComponent((a.body as { ticket: string }).ticket)}`;
      if (a.status !== 404) {
        link.fail(closeCode(a.status), `tickets: HTTP ${a.status || 'unreachable'}`);
        return null;
      }
      tickets = false;
    }
    return `token=${encodeURIComponent(link.token)}`;
  }

  /** Open a stream that closes with `signal`; null when the link failed first. */
  async function stream(link: Link, channel: string, at: string | undefined, signal: AbortSignal) {
    const cred = await credential(link);
    if (cred === null || signal.aborted) return null;
    const query = at === undefined ? cred : `${cred}&lastEventId=${encodeURIComponent(at)}`;
    const es = new EventSourceImpl(`${link.base}${channelPath(channel)}/events?${query}`);
    signal.addEventListener('abort', () => es.close(), { once: true });
    return es;
  }

  /** Why did a stream not open? Ask plain HTTP. Returns the answer (200: SSE itself is refused). */
  const explain = (link: Link, channel: string) => link.call('GET', `${channelPath(channel)}/history?limit=0`);

  async function verify(link: Link, user: string): Promise<boolean> {
    const ctl = linked(link.signal);
    const channel = `user:${user}`;
    const es = await stream(link, channel, undefined, ctl.signal);
    if (!es) return false;
    const opened = await new Promise<boolean>((resolve) => {
      es.addEventListener('open', () => resolve(true));
      es.addEventListener('error', () => resolve(false));
    });
    ctl.abort();
    if (opened) return true;
    const a = await explain(link, channel);
    link.fail(closeCode(a.status === 200 ? 0 : a.status), `event stream refused (HTTP ${a.status} without SSE)`);
    return false;
  }

  function open(link: Link, f: SubscribeFrame): () => void {
    const ctl = linked(link.signal);
    const { channel } = f;
    let replied = false;
    const answer = (result: SubscribeResult): boolean => {
      if (replied || ctl.signal.aborted) return false;
      replied = true;
      link.frame({ type: 'reply', id: f.id, result });
      return true;
    };
    const run = async (): Promise<void> => {
      let pending: SubscribeResult | undefined;
      let at = f.since && position(f.since);
      const kept = resyncs.get(channel);
      resyncs.delete(channel);
      if (kept && kept.from === at) {
        pending = kept.result;
        at = position(kept.result);
      } else if (f.since) {
        pending = { channel, epoch: f.since.epoch, offset: f.since.offset, recovered: true, events: [] };
      } else if (!channel.startsWith('task:')) {
        const a = await link.call(
          'GET',
          `${channelPath(channel)}/history?limit=${f.history ?? 0}`,
          undefined,
          ctl.signal,
        );
        if (ctl.signal.aborted) return;
        if (a.status !== 200) return refused(link, a, f, false);
        const h = a.body as HistoryAnswer;
        pending = { channel, epoch: h.epoch, offset: h.offset, events: h.events };
        at = position(h);
      }
      const es = await stream(link, channel, at, ctl.signal);
      if (!es) return;
      let opened = false;
      es.addEventListener('open', () => {
        opened = true;
        if (pending) answer(pending);
      });
      es.addEventListener('snapshot', (ev) => {
        const data = parse<SubscribeResult>(ev);
        if (data) answer({ ...data, events: [] });
      });
      es.addEventListener('resync', (ev) => {
        const data = parse<SubscribeResult>(ev);
        if (!data) return;
        const result: SubscribeResult = { ...data, recovered: false, events: [] };
        if (answer(result) || ctl.signal.aborted || at === undefined) return;
        resyncs.set(channel, { from: at, result });
        ctl.abort();
        link.frame({ type: 'unsubscribed', channel, code: 'unavailable', message: 'resync', resubscribe: true });
      });
      es.addEventListener('event', (ev) => {
        const event = parse<EventFrame>(ev);
        if (event && !ctl.signal.aborted) link.frame(event);
      });
      es.addEventListener('unsubscribed', (ev) => {
        const data = parse<UnsubscribedFrame>(ev);
        if (!data || ctl.signal.aborted) return;
        ctl.abort();
        link.frame({ ...data, type: 'unsubscribed' });
      });
      es.addEventListener('error', () => {
        if (ctl.signal.aborted) return;
        ctl.abort();
        if (opened) return link.fail(1006, `${channel}: event stream lost`);
        void explain(link, channel).then((a) =>
          a.status === 200 ? link.fail(1006, `${channel}: event stream refused`) : refused(link, a, f, replied),
        );
      });
    };
    run().catch((err: unknown) => link.fail(1006, String(err)));
    return () => ctl.abort();
  }

  return (url, handlers) => emulated(url, handlers, fetchImpl, { name: 'sse', verify, open });
}
