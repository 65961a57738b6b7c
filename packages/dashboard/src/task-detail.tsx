/** One task: its snapshot, batch or parent, approval, result or error, streams, timeline and log. */
import { useMemo, useState, type ReactElement } from 'react';
import type { Task } from '@taskwire/client';
import { useTask } from '@taskwire/react';
import { ApprovalPanel } from './approval.js';
import { BatchSection, PartOf } from './batch.js';
import { STATUS_LABEL, elapsedMs, etaMs, formatDuration, formatTime, isTerminal, cancelQuestion } from './format.js';
import { useDashboard } from './hooks.js';
import { Streams } from './stream-view.js';
import { useChildren } from './use-children.js';
import { useTaskEvents, type TimelineEntry } from './use-task-events.js';
import { ProgressBar, StatusPill } from './widgets.js';

export function TaskDetail(props: { id: string; now: number; close: () => void }): ReactElement {
  const { task, error } = useTask(props.id);
  return (
    <section className="detail" aria-labelledby="detail-heading" data-id={props.id}>
      <div className="pane-head">
        <h2 id="detail-heading">{task?.title ?? props.id}</h2>
        <button type="button" className="ghost" onClick={props.close} aria-label="Close the task detail">
          ← Back to tasks
        </button>
      </div>
      {error ? (
        <p className="error" role="alert">
          {error.code === 'not_found' ? `Task ${props.id} was not found (or is not yours).` : error.message}
        </p>
      ) : task === undefined ? (
        <p className="muted">Loading…</p>
      ) : task === null ? (
        <p className="muted">Task {props.id} does not exist yet; it shows here as soon as it is created.</p>
      ) : (
        <Body task={task} now={props.now} />
      )}
    </section>
  );
}

function Body(props: { task: Task; now: number }): ReactElement {
  const { task, now } = props;
  const events = useTaskEvents(task.id);
  const { logs, error } = events;
  const kids = useChildren(task);
  const isBatch = task.children !== null || task.batch !== null;
  const timeline = useMemo(() => withChildEnds(events.timeline, kids.children), [events.timeline, kids.children]);
  const streams = useMemo(
    () =>
      Array.from(new Set([...Object.keys(task.streams), ...events.streams])).sort((a, b) =>
        a === 'output' ? -1 : b === 'output' ? 1 : a < b ? -1 : 1,
      ),
    [task.streams, events.streams],
  );
  const eta = etaMs(task, now);
  return (
    <>
      {task.parentId !== null && <PartOf parentId={task.parentId} />}
      <dl className="facts">
        <dt>Status</dt>
        <dd>
          <StatusPill status={task.status} />
        </dd>
        <dt>Progress</dt>
        <dd>
          <ProgressBar task={task} />
        </dd>
        <dt>Stage</dt>
        <dd>{task.stage ?? '—'}</dd>
        <dt>Message</dt>
        <dd>{task.message ?? '—'}</dd>
        <dt>Owner</dt>
        <dd>{task.owner}</dd>
        <dt>Id</dt>
        <dd>
          <code>{task.id}</code>
        </dd>
        <dt>Elapsed</dt>
        <dd>
          {formatDuration(elapsedMs(task, now))}
          {eta !== null && <span className="muted"> · about {formatDuration(eta)} left</span>}
        </dd>
        <dt>Created</dt>
        <dd>{formatTime(task.createdAt)}</dd>
      </dl>
      {isBatch && <BatchSection task={task} kids={kids} />}
      <ApprovalPanel task={task} />
      <Outcome task={task} />
      <CancelButton task={task} kids={kids.children} />
      <Streams task={task} names={streams} />
      {error && <p className="error">History could not be loaded: {error}</p>}
      <section aria-labelledby="timeline-h">
        <h3 id="timeline-h">Timeline</h3>
        <ol className="timeline">
          {timeline.map((e) => (
            <li key={e.key} className={`tl-${e.kind}`}>
              <time dateTime={new Date(e.time).toISOString()}>{formatTime(e.time)}</time> {e.text}
            </li>
          ))}
        </ol>
      </section>
      <section aria-labelledby="logs-h">
        <h3 id="logs-h">Log</h3>
        {logs.length === 0 ? (
          <p className="muted">No log lines.</p>
        ) : (
          <pre className="log" tabIndex={0} aria-label="log lines" aria-live="polite">
            {logs.map((l) => (
              <span key={l.key} className="log-line">
                <span className="muted">{formatTime(l.time)} </span>
                {l.text}
                {'\n'}
              </span>
            ))}
          </pre>
        )}
      </section>
    </>
  );
}

function Outcome(props: { task: Task }): ReactElement | null {
  const { task } = props;
  if (task.error) {
    return (
      <section className="outcome failed" aria-label="error">
        <h3>Error{task.error.code ? ` (${task.error.code})` : ''}</h3>
        <p>{task.error.message}</p>
      </section>
    );
  }
  if (task.status === 'succeeded') {
    return (
      <section className="outcome succeeded" aria-label="result">
        <h3>Result</h3>
        {task.result === null ? <p className="muted">No result.</p> : <pre>{JSON.stringify(task.result, null, 2)}</pre>}
      </section>
    );
  }
  return null;
}

/** The timeline, with a line per child that ended (a batch's progress lines are left out). */
function withChildEnds(timeline: readonly TimelineEntry[], children: readonly Task[]): TimelineEntry[] {
  const ends: TimelineEntry[] = children.flatMap((c) =>
    isTerminal(c.status) && c.finishedAt
      ? [
          {
            key: `child:${c.id}`,
            time: Date.parse(c.finishedAt),
            text: `child ${c.title ?? c.id} → ${STATUS_LABEL[c.status]}`,
            kind: 'child' as const,
          },
        ]
      : [],
  );
  if (ends.length === 0) return timeline as TimelineEntry[];
  return [...timeline, ...ends].sort((a, b) => a.time - b.time);
}

function CancelButton(props: { task: Task; kids: readonly Task[] }): ReactElement | null {
  const { api } = useDashboard();
  const [error, setError] = useState<string | null>(null);
  if (isTerminal(props.task.status)) return null;
  const cancel = (): void => {
    if (!window.confirm(cancelQuestion(props.task, props.kids))) return;
    api.cancel(props.task.id).then(
      () => setError(null),
      (err: unknown) => setError(err instanceof Error ? err.message : String(err)),
    );
  };
  return (
    <p>
      <button type="button" className="ghost danger-text" onClick={cancel}>
        Cancel task
      </button>
      {error && <span className="error"> {error}</span>}
    </p>
  );
}
