/**
 * One row of the task list: a button that opens the task, with its status, progress
 * and times. A batch's row shows its own bar (the parent's progress) and leads its
 * detail with its children's counts; `depth` indents a child under its batch.
 */
import type { ReactElement } from 'react';
import type { Task } from '@taskwire/client';
import { STATUS_LABEL, batchSummary, elapsedMs, etaMs, formatDuration } from './format.js';
import { ProgressBar, StatusPill } from './widgets.js';

export function TaskRow(props: {
  task: Task;
  now: number;
  selected: boolean;
  onOpen: (id: string) => void;
  depth?: number;
}): ReactElement {
  const { task, now, selected } = props;
  const depth = props.depth ?? 0;
  const eta = etaMs(task, now);
  const said = task.status === 'failed' && task.error ? task.error.message : task.message;
  const detail = [batchSummary(task), task.stage, said].filter(Boolean).join(' · ');
  return (
    <li
      className={`task-row${depth > 0 ? ' child-row' : ''}`}
      data-id={task.id}
      data-status={task.status}
      data-progress={task.progress ?? ''}
      data-batch={task.children !== null || task.batch !== null ? 'true' : undefined}
      data-parent={task.parentId ?? undefined}
      data-depth={depth}
    >
      <button
        type="button"
        className="row-button"
        aria-current={selected ? 'true' : undefined}
        aria-label={`${task.title ?? task.id}: ${STATUS_LABEL[task.status]}${task.progress !== null ? `, ${Math.round(task.progress)} %` : ''}`}
        onClick={() => props.onOpen(task.id)}
      >
        <span className="cell-title">
          <span className="title">{task.title ?? task.id}</span>
          <span className="sub">
            <code>{task.id}</code> · {task.owner}
          </span>
        </span>
        <span className="cell-status">
          <StatusPill status={task.status} />
        </span>
        <span className="cell-progress">
          <ProgressBar task={task} />
        </span>
        <span className={`cell-detail${task.status === 'failed' ? ' failed-detail' : ''}`} title={detail}>
          {detail || <span className="muted">—</span>}
        </span>
        <span className="cell-time">
          <span title="elapsed">{formatDuration(elapsedMs(task, now))}</span>
          <span className="muted eta" title="rough time left, from the progress rate">
            {eta !== null ? `~${formatDuration(eta)} left` : ''}
          </span>
        </span>
      </button>
    </li>
  );
}
