/**
 * A task's events: live ones from `useChannel('task:<id>')`, and the earlier ones
 * from `GET /channels/task:<id>/history`, read each time the subscription becomes
 * `subscribed` (first load, and after every reconnect or resync), so nothing falls
 * between the two. Events are kept by `epoch:offset`, so overlaps count once.
 * From them: the log lines, a timeline of what changed (for a batch whose progress
 * follows its children, not every progress change: the caller adds a line per child
 * that ended), and the names of the streams written. A stream chunk is kept without
 * its text (the stream view reads the text), so a long stream costs little here.
 */
import { useEffect, useMemo, useReducer, useState } from 'react';
import type { EventFrame, Task } from '@taskwire/client';
import { useChannel, useTaskwireClient } from '@taskwire/react';
import { STATUS_LABEL } from './format.js';
import { useDashboard } from './hooks.js';
import { taskOf } from './use-task-list.js';

export interface LogLine {
  key: string;
  time: number;
  text: string;
}

export interface TimelineEntry {
  key: string;
  time: number;
  text: string;
  kind: 'status' | 'stage' | 'progress' | 'approval' | 'created' | 'child';
}

type Events = ReadonlyMap<string, EventFrame>;
const keyOf = (e: EventFrame): string => `${e.epoch}:${e.offset}`;

/** A `task.stream` event without its text. */
function light(e: EventFrame): EventFrame {
  const data = e.data as { kind?: unknown; stream?: unknown };
  return data.kind === 'task.stream' ? { ...e, data: { kind: 'task.stream', stream: data.stream } } : e;
}

function addEvents(state: Events, incoming: readonly EventFrame[]): Events {
  const fresh = incoming.filter((e) => !state.has(keyOf(e)));
  if (fresh.length === 0) return state;
  const next = new Map(state);
  for (const e of fresh) next.set(keyOf(e), light(e));
  return next;
}

/** A batch whose progress follows its children: its progress lines would be one per child change. */
const followsChildren = (task: Task): boolean => task.children !== null && task.batch?.progressFrom !== 'self';

type Change = [TimelineEntry['kind'], string];

/** What an event changed, compared with the snapshot before it (none: the first one seen). */
function describe(prev: Task | null, task: Task, created: boolean): Change[] {
  if (!prev)
    return [created ? ['created', `created · ${STATUS_LABEL[task.status]}`] : ['status', STATUS_LABEL[task.status]]];
  const out: Change[] = [];
  if (task.approval && !prev.approval?.requestedAt) out.push(['approval', `approval asked: ${task.approval.prompt}`]);
  if (task.approval?.decision && !prev.approval?.decision) {
    const by = task.approval.decidedBy ? ` by ${task.approval.decidedBy}` : '';
    out.push(['approval', `${task.approval.decision === 'approve' ? 'approved' : 'rejected'}${by}`]);
  }
  if (task.status !== prev.status) out.push(['status', `status → ${STATUS_LABEL[task.status]}`]);
  if (task.stage !== prev.stage && task.stage) out.push(['stage', `stage: ${task.stage}`]);
  if (out.length === 0 && task.progress !== prev.progress && task.progress !== null && !followsChildren(task)) {
    out.push(['progress', `progress ${Math.round(task.progress)}%${task.message ? ` · ${task.message}` : ''}`]);
  }
  return out;
}

export interface TaskEvents {
  logs: LogLine[];
  timeline: TimelineEntry[];
  /** The streams seen in the events (a snapshot's `streams` may not list a new one until its next update). */
  streams: string[];
  error: string | null;
}

export function useTaskEvents(id: string): TaskEvents {
  const { api, reportResync } = useDashboard();
  const client = useTaskwireClient();
  const channel = `task:${id}`;
  const [events, add] = useReducer(addEvents, new Map<string, EventFrame>());
  const [error, setError] = useState<string | null>(null);
  const { state } = useChannel(channel, (e) => add([e]));

  useEffect(() => {
    if (state !== 'subscribed') return undefined;
    let stopped = false;
    api.history(channel).then(
      (h) => {
        if (!stopped) add(h.events);
      },
      (err: unknown) => {
        if (!stopped) setError(err instanceof Error ? err.message : String(err));
      },
    );
    return () => {
      stopped = true;
    };
  }, [api, channel, state]);

  useEffect(() => {
    const handle = client.channel(channel);
    const off = handle.subscribe((n) => {
      if (n.type === 'resync') reportResync(channel);
    });
    return () => {
      off();
      handle.release();
    };
  }, [client, channel, reportResync]);

  return useMemo(() => {
    const sorted = Array.from(events.values()).sort((a, b) => a.time - b.time || a.offset - b.offset);
    const logs: LogLine[] = [];
    const timeline: TimelineEntry[] = [];
    const streams = new Set<string>();
    let prev: Task | null = null;
    for (const e of sorted) {
      const data = e.data as { kind?: unknown; lines?: unknown; stream?: unknown };
      if (data.kind === 'task.stream') {
        if (typeof data.stream === 'string') streams.add(data.stream);
        continue;
      }
      if (data.kind === 'task.log' && Array.isArray(data.lines)) {
        data.lines.forEach((text, i) => logs.push({ key: `${keyOf(e)}:${i}`, time: e.time, text: String(text) }));
        continue;
      }
      const task = taskOf(e.data);
      if (!task) continue;
      const created = (e.data as { kind?: unknown }).kind === 'task.created';
      describe(prev, task, created).forEach(([kind, text], i) =>
        timeline.push({ key: `${keyOf(e)}:${i}`, time: e.time, text, kind }),
      );
      prev = task;
    }
    return { logs, timeline, streams: Array.from(streams), error };
  }, [events, error]);
}
