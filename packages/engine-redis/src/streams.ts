/**
 * Task streams on Redis: each stream's chunks are a list in the task's slot, and the
 * task's summary of them is the `streams` field of its hash, laid over the snapshot
 * whenever it is read (so a task commit from another node, made from an older read,
 * never takes a chunk back). stream.lua appends a chunk with its summary, the stall
 * deadline and the chunk's event on the task channel, in one script.
 */
import { utf8Length, withTaskDefaults, type StreamSummary, type Task } from '@taskwire/protocol';
import type { StoredEvent, StreamAppendRequest, StreamAppendResult, StreamText } from '@taskwire/server/engine';
import type { ChannelSettings } from './derived.js';
import type { Keys } from './keys.js';
import { scripts, type Client } from './scripts.js';

/** A stored snapshot, with the defaults of newer fields and its streams summary. */
export function readSnapshot(json: string | null, streams: string | null | undefined): Task | null {
  if (json === null) return null;
  const task = withTaskDefaults(JSON.parse(json) as Task);
  return streams ? { ...task, streams: JSON.parse(streams) as Record<string, StreamSummary> } : task;
}

export async function appendStream(
  client: Client,
  keys: Keys,
  s: ChannelSettings,
  req: StreamAppendRequest,
): Promise<StreamAppendResult> {
  const channel = `task:${req.taskId}`;
  const ck = keys.channel(channel);
  const reply = (await scripts().stream.run(
    client,
    [keys.task(req.taskId), keys.streamChunks(req.taskId, req.stream), ck.meta, ck.stream],
    [
      req.index,
      req.text,
      req.stream,
      utf8Length(req.text),
      req.maxBytes,
      req.maxStreams,
      req.stallAt ?? '',
      req.event.json ?? JSON.stringify(req.event.data),
      s.newEpoch(),
      s.historySize,
      s.historyTtlMs,
      s.metaTtlMs,
      s.sharded ? '1' : '0',
      JSON.stringify(channel),
      ck.pubsub,
    ],
  )) as [string, string?, string?];
  const [status, streams, event] = reply;
  if (status !== 'ok') return { ok: false, reason: status as 'conflict' | 'not_found' | 'too_large' | 'too_many' };
  const summary = (JSON.parse(streams as string) as Record<string, StreamSummary>)[req.stream] as StreamSummary;
  return { ok: true, event: JSON.parse(event as string) as StoredEvent, summary };
}

export async function readStream(client: Client, keys: Keys, taskId: string, stream: string): Promise<StreamText> {
  const chunks = await client.lrange(keys.streamChunks(taskId, stream), 0, -1);
  return { text: chunks.join(''), chunks: chunks.length };
}
