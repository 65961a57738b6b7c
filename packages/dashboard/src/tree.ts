/**
 * The task list as a tree of batches (protocol 1.1): a child sits under its parent
 * when the parent is in the list too, else it is a row of its own (an orphan). Pure,
 * and without recursion, so neither a loop in the `parentId`s (which the server
 * never makes, but a list is data) nor a very deep chain can hang or overflow it.
 *
 * Filters: a task shows when it or one of its descendants matches. Under a task
 * that matches, everything is shown (its children are what it is made of); a task
 * shown only for a descendant shows just the matching branches, and opens by itself.
 */
import type { Task } from '@taskwire/client';

export interface TreeNode {
  task: Task;
  /** The children shown under it, oldest first. */
  children: TreeNode[];
  /** Its children present in the list, filter or not (against `task.children.total`: how many are missing). */
  held: number;
  /** It matches the filter itself, or sits under a task that does. */
  matched: boolean;
  /** Shown only because a descendant matches: its children open by themselves. */
  autoOpen: boolean;
}

const byCreated = (a: Task, b: Task): number =>
  a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

/** For each task, the parent it hangs under in this list (null: a root). A link that closes a loop is cut. */
function parents(tasks: readonly Task[], byId: ReadonlyMap<string, Task>): Map<string, string | null> {
  const parentOf = new Map<string, string | null>();
  const onPath = new Set<string>();
  for (const start of tasks) {
    if (parentOf.has(start.id)) continue;
    const path: string[] = [];
    for (let cur: Task | undefined = start; cur && !parentOf.has(cur.id) && !onPath.has(cur.id);) {
      onPath.add(cur.id);
      path.push(cur.id);
      const parent: Task | undefined = cur.parentId !== null ? byId.get(cur.parentId) : undefined;
      if (!parent || onPath.has(parent.id)) {
        parentOf.set(cur.id, null);
        break;
      }
      parentOf.set(cur.id, parent.id);
      cur = parent;
    }
    for (const id of path) onPath.delete(id);
  }
  return parentOf;
}

/** The roots in the order of `tasks`, each with its children in creation order, filtered by `match`. */
export function buildTree(tasks: readonly Task[], match: (task: Task) => boolean = () => true): TreeNode[] {
  const byId = new Map<string, Task>();
  for (const t of tasks) if (!byId.has(t.id)) byId.set(t.id, t);
  const unique = Array.from(byId.values());
  const parentOf = parents(unique, byId);
  const kids = new Map<string, Task[]>();
  const roots: Task[] = [];
  for (const t of unique) {
    const parent = parentOf.get(t.id) ?? null;
    if (parent === null) roots.push(t);
    else {
      let list = kids.get(parent);
      if (!list) kids.set(parent, (list = []));
      list.push(t);
    }
  }
  for (const list of kids.values()) list.sort(byCreated);

  // Pre-order from the roots (an explicit stack), then bottom-up: does anything under a task match?
  const order: Task[] = [];
  const inMatched = new Map<string, boolean>();
  const stack: Array<[Task, boolean]> = roots.map((r): [Task, boolean] => [r, false]).reverse();
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [task, above] = item;
    const matched = above || match(task);
    inMatched.set(task.id, matched);
    order.push(task);
    const list = kids.get(task.id) ?? [];
    for (let i = list.length - 1; i >= 0; i--) stack.push([list[i] as Task, matched]);
  }
  const visible = new Map<string, boolean>();
  for (let i = order.length - 1; i >= 0; i--) {
    const task = order[i] as Task;
    const shown = inMatched.get(task.id) === true || (kids.get(task.id) ?? []).some((k) => visible.get(k.id));
    visible.set(task.id, shown);
  }

  const nodes = new Map<string, TreeNode>();
  for (const task of order) {
    if (!visible.get(task.id)) continue;
    const matched = inMatched.get(task.id) === true;
    const list = kids.get(task.id) ?? [];
    const node: TreeNode = { task, children: [], held: list.length, matched, autoOpen: false };
    nodes.set(task.id, node);
    const parent = parentOf.get(task.id);
    const up = parent !== null && parent !== undefined ? nodes.get(parent) : undefined;
    if (up) {
      up.children.push(node);
      if (!up.matched) up.autoOpen = true;
    }
  }
  return roots.flatMap((r) => nodes.get(r.id) ?? []);
}

/** The children a parent has that the node does not hold (the list is a window of the newest tasks). */
export function missingChildren(node: TreeNode): number {
  return Math.max(0, (node.task.children?.total ?? 0) - node.held);
}
