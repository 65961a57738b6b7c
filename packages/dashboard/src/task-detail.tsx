/** One task: its snapshot, approval, result or error, timeline and log stream. */
import { useState, type ReactElement } from 'react';
import type { Task } from '@taskwire/client';
import { useTask } from '@taskwire/react';
import { ApprovalPanel } from './approval.js';
import { elapsedMs, etaMs, formatDuration, formatTime, isTerminal } from './format.js';
import { useDashboard } from './hooks.js';
import { useTaskEvents } from './use-task-events.js';
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
  const { logs, timeline, error } = useTaskEvents(task.id);
  const eta = etaMs(task, now);
  return (
    <>
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
      <ApprovalPanel task={task} />
      <Outcome task={task} />
      <CancelButton task={task} />
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

function CancelButton(props: { task: Task }): ReactElement | null {
  const { api } = useDashboard();
  const [error, setError] = useState<string | null>(null);
  if (isTerminal(props.task.status)) return null;
  const cancel = (): void => {
    if (!window.confirm(`Cancel task ${props.task.id}?`)) return;
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
