/** Small presentational pieces shared by the views. */
import type { ReactElement, ReactNode } from 'react';
import type { Task, TaskStatus } from '@taskwire/client';
import { STATUS_LABEL } from './format.js';

export function StatusPill(props: { status: TaskStatus }): ReactElement {
  return (
    <span className={`pill status-${props.status}`} data-status={props.status}>
      {STATUS_LABEL[props.status]}
    </span>
  );
}

/** A determinate bar (or an indeterminate one while progress is unknown), with its percentage. */
export function ProgressBar(props: { task: Task }): ReactElement {
  const { progress, status } = props.task;
  const pct = progress === null ? null : Math.max(0, Math.min(100, progress));
  return (
    <span className="progress">
      <span
        className={`bar status-${status}${pct === null ? ' unknown' : ''}`}
        role="progressbar"
        aria-label="progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct ?? undefined}
      >
        <span className="fill" style={{ width: `${pct ?? (status === 'running' ? 100 : 0)}%` }} />
      </span>
      <span className="pct">{pct === null ? '–' : `${Math.round(pct)}%`}</span>
    </span>
  );
}

export function Empty(props: { children: ReactNode }): ReactElement {
  return <p className="empty">{props.children}</p>;
}
