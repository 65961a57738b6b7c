/** Reading a channel's history on Redis (history.lua: position, recovery check, events in one script). */
import { newEpoch, type HistoryRequest, type HistoryResult, type StoredEvent } from '@taskwire/server/engine';
import type { ChannelSettings } from './derived.js';
import type { Keys } from './keys.js';
import { scripts, type Client } from './scripts.js';

function toEvent(channel: string, epoch: string, entry: unknown): StoredEvent {
  const [id, fields] = entry as [string, string[]];
  let time = 0;
  let data = 'null';
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 't') time = Number(fields[i + 1]);
    else if (fields[i] === 'd') data = fields[i + 1] as string;
  }
  return { channel, epoch, offset: Number.parseInt(id, 10), time, data: JSON.parse(data) as unknown };
}

export async function readHistory(
  client: Client,
  keys: Keys,
  s: ChannelSettings,
  channel: string,
  req: HistoryRequest,
): Promise<HistoryResult> {
  const ck = keys.channel(channel);
  const { since } = req;
  const limit = Math.max(0, Math.floor(req.limit));
  const reply = (await scripts().history.run(
    client,
    [ck.meta, ck.stream],
    [
      newEpoch(),
      s.historySize,
      s.historyTtlMs,
      s.metaTtlMs,
      since ? '1' : '0',
      since?.epoch ?? '',
      since?.offset ?? 0,
      limit,
    ],
  )) as [string, number, number, unknown[]];
  const [epoch, top, recovered, entries] = reply;
  const events = entries.map((entry) => toEvent(channel, epoch, entry));
  if (!since) events.reverse();
  return { epoch, offset: Number(top), recovered: recovered === 1, events };
}
