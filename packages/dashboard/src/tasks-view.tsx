/**
 * The task list with its filters (status, owner, id search), and the detail of the
 * selected task. A batch is one row, its children under it (task-tree.tsx); the
 * filters keep a batch when it or a child matches.
 */
import { useCallback, useId, useMemo, useState, type ReactElement } from 'react';
import type { Task } from '@taskwire/client';
import type { TaskStatus } from '@taskwire/client';
import { STATUSES, STATUS_LABEL, isTerminal } from './format.js';
import { useDashboard, useNow } from './hooks.js';
import { TaskDetail } from './task-detail.js';
import { TaskNode } from './task-tree.js';
import { buildTree, type TreeNode } from './tree.js';
import { useTaskList } from './use-task-list.js';
import { Empty } from './widgets.js';

type StatusFilter = 'all' | 'active' | TaskStatus;

export function TasksView(props: { taskId: string | null; open: (id: string | null) => void }): ReactElement {
  const { session } = useDashboard();
  const { tasks, loading, error } = useTaskList();
  const now = useNow();
  const [status, setStatus] = useState<StatusFilter>('all');
  const [owner, setOwner] = useState('');
  const [search, setSearch] = useState('');
  const ids = { status: useId(), owner: useId(), search: useId() };

  const owners = useMemo(() => Array.from(new Set(tasks.map((t) => t.owner))).sort(), [tasks]);
  const [opened, setOpened] = useState<ReadonlyMap<string, boolean>>(new Map());
  const all = useMemo(() => buildTree(tasks), [tasks]);
  const shown = useMemo(() => {
    const needle = search.trim().toLowerCase();
    const match = (t: Task): boolean =>
      (status === 'all' || (status === 'active' ? !isTerminal(t.status) : t.status === status)) &&
      (owner === '' || t.owner === owner) &&
      (needle === '' || t.id.toLowerCase().includes(needle));
    return buildTree(tasks, match);
  }, [tasks, status, owner, search]);
  const isOpen = useCallback((node: TreeNode) => opened.get(node.task.id) ?? node.autoOpen, [opened]);
  const toggle = useCallback((id: string, open: boolean) => setOpened((prev) => new Map(prev).set(id, open)), []);
  const counts = useMemo(() => {
    const c = new Map<TaskStatus, number>();
    for (const t of tasks) c.set(t.status, (c.get(t.status) ?? 0) + 1);
    return c;
  }, [tasks]);

  return (
    <div className={`tasks-layout${props.taskId ? ' with-detail' : ''}`}>
      <section className="tasks-pane" aria-labelledby="tasks-heading">
        <div className="pane-head">
          <h2 id="tasks-heading">
            Tasks{' '}
            <span className="count">
              {shown.length === all.length ? all.length : `${shown.length} of ${all.length}`}
            </span>
          </h2>
          <p className="muted scope">{session.admin ? 'all users (admin)' : `${session.user}’s tasks`}</p>
        </div>
        <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
          <label htmlFor={ids.search}>Search by id</label>
          <input
            id={ids.search}
            type="search"
            placeholder="task id"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
          <label htmlFor={ids.status}>Status</label>
          <select id={ids.status} value={status} onChange={(e) => setStatus(e.target.value as StatusFilter)}>
            <option value="all">all</option>
            <option value="active">active (not finished)</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {STATUS_LABEL[s]} ({counts.get(s) ?? 0})
              </option>
            ))}
          </select>
          <label htmlFor={ids.owner}>Owner</label>
          <select id={ids.owner} value={owner} onChange={(e) => setOwner(e.target.value)}>
            <option value="">everyone</option>
            {owners.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </form>
        {error && (
          <p className="error" role="alert">
            Could not load the tasks: {error}
          </p>
        )}
        {loading ? (
          <Empty>Loading tasks…</Empty>
        ) : shown.length === 0 ? (
          <Empty>
            {tasks.length === 0
              ? 'No tasks yet. They appear here as soon as a backend creates one.'
              : 'No task matches the filters.'}
          </Empty>
        ) : (
          <ul className="task-list" aria-label="tasks">
            {shown.map((node) => (
              <TaskNode
                key={node.task.id}
                node={node}
                depth={0}
                now={now}
                selected={props.taskId}
                onOpen={props.open}
                isOpen={isOpen}
                toggle={toggle}
              />
            ))}
          </ul>
        )}
      </section>
      {props.taskId && <TaskDetail key={props.taskId} id={props.taskId} now={now} close={() => props.open(null)} />}
    </div>
  );
}
