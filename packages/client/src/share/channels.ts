/**
 * Runs the mux (./mux.ts) of every channel the group's tabs want: one entry per
 * channel, each input through `#step`, its effects carried out on the leader's one
 * connection and towards the tabs. An entry's replies are routed by the entry
 * object itself, so a reply for an entry that ended (and maybe was created anew
 * for the same channel) is dropped.
 */
import type { EventFrame, ServerFrame, SubscribeResult, UnsubscribedFrame } from '@taskwire/protocol';
import type { OutFrame, Settle } from '../requests.js';
import { createEntry, type Entry, type MuxOutcome, type TabRequest } from './entry.js';
import { muxStep, type MuxInput } from './mux.js';
import type { TabId } from './protocol.js';

export interface ChannelsHost {
  /** A request on the leader's connection (settles `disconnected` at once when it is not connected). */
  send<T>(frame: OutFrame, settle: Settle<T>): void;
  reply(tab: TabId, id: number, outcome: MuxOutcome): void;
  /** An event for every tab. */
  event(event: EventFrame): void;
  /** An `unsubscribed` frame for these tabs. */
  unsubscribed(tabs: TabId[], frame: UnsubscribedFrame): void;
}

interface Holder {
  entry: Entry;
}

const ignore = (): void => undefined;

export class Channels {
  readonly #entries = new Map<string, Holder>();

  constructor(private readonly host: ChannelsHost) {}

  /** A tab's subscribe request. */
  want(channel: string, req: TabRequest): void {
    let holder = this.#entries.get(channel);
    if (!holder) this.#entries.set(channel, (holder = { entry: createEntry(channel) }));
    this.#step(channel, holder, { type: 'want', req });
  }

  /** A tab's unsubscribe. */
  drop(channel: string, tab: TabId): void {
    const holder = this.#entries.get(channel);
    if (holder) this.#step(channel, holder, { type: 'drop', tab });
  }

  /** A tab left the group: it wants nothing any more. */
  dropTab(tab: TabId): void {
    for (const [channel, holder] of Array.from(this.#entries)) this.#step(channel, holder, { type: 'drop', tab });
  }

  /** The tabs that want something (for the leader's check of which tabs are still alive). */
  tabs(): Set<TabId> {
    const tabs = new Set<TabId>();
    for (const { entry } of this.#entries.values()) {
      for (const t of entry.live) tabs.add(t);
      for (const r of entry.queue) tabs.add(r.tab);
      for (const r of entry.round?.targets ?? []) tabs.add(r.tab);
    }
    return tabs;
  }

  /** `event` and `unsubscribed` frames from the server. */
  frame(frame: ServerFrame): void {
    if (frame.type !== 'event' && frame.type !== 'unsubscribed') return;
    const holder = this.#entries.get(frame.channel);
    if (!holder) return;
    this.#step(
      frame.channel,
      holder,
      frame.type === 'event' ? { type: 'event', event: frame } : { type: 'unsubscribed', frame },
    );
  }

  /** The connection is gone: every waiting request fails `disconnected`; the tabs resubscribe after the next welcome. */
  reset(): void {
    const entries = Array.from(this.#entries.values());
    this.#entries.clear();
    for (const { entry } of entries) {
      for (const r of [...entry.queue, ...(entry.round?.targets ?? [])]) {
        this.host.reply(r.tab, r.id, { ok: false, error: { code: 'disconnected', message: 'connection lost' } });
      }
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  #step(channel: string, holder: Holder, input: MuxInput): void {
    if (this.#entries.get(channel) !== holder) return;
    const { entry, effects } = muxStep(holder.entry, input);
    if (entry) holder.entry = entry;
    for (const effect of effects) {
      switch (effect.type) {
        case 'subscribe': {
          const { seq, since, history } = effect;
          const frame = since
            ? { op: 'subscribe' as const, channel, since }
            : { op: 'subscribe' as const, channel, ...(history > 0 ? { history } : {}) };
          this.host.send<SubscribeResult>(frame, (outcome) =>
            this.#step(channel, holder, {
              type: 'reply',
              seq,
              outcome: outcome.ok
                ? { ok: true, result: outcome.result }
                : { ok: false, error: { code: outcome.error.code, message: outcome.error.message } },
            }),
          );
          break;
        }
        case 'unsubscribe':
          this.host.send({ op: 'unsubscribe', channel }, ignore);
          break;
        case 'reply':
          this.host.reply(effect.tab, effect.id, effect.outcome);
          break;
        case 'event':
          this.host.event(effect.event);
          break;
        case 'unsubscribed':
          this.host.unsubscribed(effect.tabs, effect.frame);
          break;
        case 'end':
          if (this.#entries.get(channel) === holder) this.#entries.delete(channel);
          break;
      }
    }
  }
}
