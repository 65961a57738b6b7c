/** A batch in the task detail: its counts, options and children; and a child's "Part of" line. */
import type { ReactElement } from 'react';
import type { Task } from '@taskwire/client';
import { useTask } from '@taskwire/react';
import { batchOptions, batchSummary } from './format.js';
import { routeHref } from './route.js';
import type { Children } from './use-children.js';
import { ProgressBar, StatusPill } from './widgets.js';

export function BatchSection(props: { task: Task; kids: Children }): ReactElement {
  const { task } = props;
  const { children, loading, error, capped } = props.kids;
  const total = task.children?.total ?? 0;
  return (
    <section className="batch" aria-labelledby="batch-h">
      <h3 id="batch-h">Batch</h3>
      <p className="batch-counts" data-testid="batch-counts">
        {batchSummary(task)}
      </p>
      <ul className="batch-options">
        {batchOptions(task).map((line) => (
          <li key={line}>{line}</li>
        ))}
      </ul>
      {error && <p className="error">The children could not be loaded: {error}</p>}
      {loading ? (
        <p className="muted">Loading the children…</p>
      ) : children.length === 0 ? (
        <p className="muted">No child yet.</p>
      ) : (
        <ol className="children" aria-label={`children of ${task.title ?? task.id}`} tabIndex={0}>
          {children.map((c) => (
            <li key={c.id} className="child" data-id={c.id} data-status={c.status} data-progress={c.progress ?? ''}>
              <a href={routeHref({ view: 'tasks', taskId: c.id })}>{c.title ?? c.id}</a>
              <StatusPill status={c.status} />
              <ProgressBar task={c} />
              <span className="muted child-detail">
                {c.status === 'failed' && c.error ? c.error.message : [c.stage, c.message].filter(Boolean).join(' · ')}
              </span>
            </li>
          ))}
        </ol>
      )}
      {capped && (
        <p className="muted">
          The first {children.length} of {total} children are shown.
        </p>
      )}
    </section>
  );
}

/** A child's link to its batch, with the batch's live counts. */
export function PartOf(props: { parentId: string }): ReactElement {
  const { task } = useTask(props.parentId);
  const summary = task ? batchSummary(task) : null;
  return (
    <p className="part-of" data-testid="part-of">
      Part of <a href={routeHref({ view: 'tasks', taskId: props.parentId })}>{task?.title ?? props.parentId}</a>
      {summary && <span className="muted"> · {summary}</span>}
    </p>
  );
}
