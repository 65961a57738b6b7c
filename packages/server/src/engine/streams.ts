/**
 * The checks of a stream append every engine makes, in one place: the chunk count the
 * caller read, the stream's size limit, the streams-per-task limit. Pure.
 */
import { utf8Length, type StreamSummary, type Task } from '@taskwire/protocol';
import type { StreamAppendRequest, StreamAppendResult } from './types.js';

const EMPTY: StreamSummary = Object.freeze({ chunks: 0, bytes: 0 });

/** The refusal of `req` against the stored task, or the stream's summary after the chunk. */
export function checkAppend(
  task: Task | null,
  req: StreamAppendRequest,
): Exclude<StreamAppendResult, { ok: true }> | { ok: true; summary: StreamSummary; streams: Task['streams'] } {
  if (task === null) return { ok: false, reason: 'not_found' };
  const streams = task.streams ?? {};
  const before = streams[req.stream] ?? EMPTY;
  if (before.chunks !== req.index) return { ok: false, reason: 'conflict' };
  if (before === EMPTY && Object.keys(streams).length >= req.maxStreams) return { ok: false, reason: 'too_many' };
  const bytes = before.bytes + utf8Length(req.text);
  if (bytes > req.maxBytes) return { ok: false, reason: 'too_large' };
  const summary = { chunks: before.chunks + 1, bytes };
  return { ok: true, summary, streams: { ...streams, [req.stream]: summary } };
}
