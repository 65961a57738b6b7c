/**
 * The task list's rows as a tree: a batch is one row, and its children sit under it
 * behind a toggle ("▸ Show 12 children (40 expected)"), closed until asked (or opened
 * by the filters when only a child matches). Open: indented, oldest first, each a row
 * of its own; a nested batch has its own toggle. When the list holds fewer children
 * than the batch has, a line says how many are missing and links to the batch.
 */
import { useId, type ReactElement } from 'react';
import { routeHref } from './route.js';
import { TaskRow } from './task-row.js';
import { missingChildren, type TreeNode } from './tree.js';

export interface TreeProps {
  now: number;
  selected: string | null;
  onOpen: (id: string) => void;
  /** Whether a batch's children are shown: the user's choice, else the filter's. */
  isOpen: (node: TreeNode) => boolean;
  toggle: (id: string, open: boolean) => void;
}

export function TaskNode(props: TreeProps & { node: TreeNode; depth: number }): ReactElement {
  const { node, depth } = props;
  const { task } = node;
  const total = task.children?.total ?? node.held;
  return (
    <>
      <TaskRow task={task} now={props.now} selected={task.id === props.selected} onOpen={props.onOpen} depth={depth} />
      {(total > 0 || node.children.length > 0) && <Children {...props} />}
    </>
  );
}

function Children(props: TreeProps & { node: TreeNode; depth: number }): ReactElement {
  const { node, depth } = props;
  const { task } = node;
  const id = useId();
  const open = props.isOpen(node);
  const total = task.children?.total ?? node.held;
  const expected = task.batch?.expectedChildren ?? 0;
  const filtered = !node.matched;
  const missing = filtered ? 0 : missingChildren(node);
  const count = filtered ? `${node.children.length} of ${total}` : String(total);
  const noun = total === 1 && !filtered ? 'child' : 'children';
  const label = open
    ? `▾ Hide ${count} ${noun}`
    : `▸ Show ${count} ${noun}${expected > total ? ` (${expected} expected)` : ''}`;
  return (
    <li className="batch-group" data-parent={task.id} data-depth={depth}>
      <button
        type="button"
        className="ghost toggle"
        aria-expanded={open}
        aria-controls={id}
        onClick={() => props.toggle(task.id, !open)}
      >
        {label}
        {filtered && <span className="muted"> matching the filters</span>}
      </button>
      {open && (
        <ul id={id} className="task-list nested" aria-label={`children of ${task.title ?? task.id}`}>
          {node.children.map((child) => (
            <TaskNode key={child.task.id} {...props} node={child} depth={depth + 1} />
          ))}
          {missing > 0 && (
            <li className="missing">
              {missing === 1 ? '1 child is' : `${missing} children are`} not in this list:{' '}
              <a href={routeHref({ view: 'tasks', taskId: task.id })}>see them all in the batch’s detail</a>
            </li>
          )}
        </ul>
      )}
    </li>
  );
}
