/** The list's batch tree (tree.ts) and the batch and stream helpers of format.ts and stream-view.tsx. */
import type { Task } from '@taskwire/client';
import { describe, expect, it } from 'vitest';
import { batchOptions, batchSummary, cancelQuestion, formatBytes, unfinished, utf8Bytes } from '../src/format.js';
import { SHOWN_CHARS, tailOf } from '../src/stream-view.js';
import { buildTree, missingChildren, type TreeNode } from '../src/tree.js';

let clock = Date.parse('2026-12-01T10:00:00.000Z');
const task = (id: string, patch: Partial<Task> = {}): Task => {
  clock += 1000;
  return {
    id,
    owner: 'alice',
    title: null,
    status: 'running',
    progress: null,
    stage: null,
    message: null,
    result: null,
    error: null,
    approval: null,
    meta: {},
    stallTimeoutMs: 60_000,
    createdAt: new Date(clock).toISOString(),
    updatedAt: new Date(clock).toISOString(),
    startedAt: null,
    finishedAt: null,
    version: 1,
    parentId: null,
    batch: null,
    children: null,
    tags: [],
    streams: {},
    ...patch,
  };
};

/** `id(child, child(…))` for a readable comparison. */
const shape = (nodes: TreeNode[]): string[] =>
  nodes.map((n) => (n.children.length ? `${n.task.id}(${shape(n.children).join(' ')})` : n.task.id));

type ChildCounts = NonNullable<Task['children']>;
const NONE: ChildCounts = {
  total: 0,
  queued: 0,
  running: 0,
  stalled: 0,
  awaiting_approval: 0,
  succeeded: 0,
  failed: 0,
  cancelled: 0,
};
const counts = (patch: Partial<ChildCounts>): ChildCounts => ({ ...NONE, ...patch });

describe('buildTree', () => {
  it('puts children under their parent in creation order, and keeps the roots in list order', () => {
    const p = task('p', { batch: { progressFrom: 'children', expectedChildren: 0, completeWhen: 'self' } });
    const c1 = task('c1', { parentId: 'p' });
    const c2 = task('c2', { parentId: 'p' });
    const g = task('g', { parentId: 'c2' });
    const lone = task('lone');
    // The list is newest update first: children may come in any order.
    const tree = buildTree([c2, lone, g, p, c1]);
    expect(shape(tree)).toEqual(['lone', 'p(c1 c2(g))']);
    expect(tree[1]!.held).toBe(2);
    expect(tree.every((n) => n.matched && !n.autoOpen)).toBe(true);
  });

  it('shows a child whose parent is not in the list as a row of its own, and counts what is missing', () => {
    const p = task('p', { children: counts({ total: 5, running: 5 }) });
    const tree = buildTree([task('orphan', { parentId: 'gone' }), p, task('c1', { parentId: 'p' })]);
    expect(shape(tree)).toEqual(['orphan', 'p(c1)']);
    expect(missingChildren(tree[1]!)).toBe(4);
    expect(missingChildren(tree[0]!)).toBe(0);
  });

  it('keeps a batch when only a child matches, opened, with only the matching children', () => {
    const p = task('p', { status: 'running' });
    const ok = task('ok', { parentId: 'p', status: 'succeeded' });
    const bad = task('bad', { parentId: 'p', status: 'failed' });
    const other = task('other', { status: 'succeeded' });
    const failed = buildTree([p, ok, bad, other], (t) => t.status === 'failed');
    expect(shape(failed)).toEqual(['p(bad)']);
    expect(failed[0]).toMatchObject({ matched: false, autoOpen: true, held: 2 });
    expect(failed[0]!.children[0]).toMatchObject({ matched: true, autoOpen: false });
    // A batch that matches itself shows all its children, closed.
    const running = buildTree([p, ok, bad, other], (t) => t.status === 'running');
    expect(shape(running)).toEqual(['p(ok bad)']);
    expect(running[0]).toMatchObject({ matched: true, autoOpen: false });
    expect(buildTree([p, ok, bad, other], () => false)).toEqual([]);
    // Nested: a grandchild's match opens both levels above it.
    const q = task('q', { parentId: 'p' });
    const deep = task('deep', { parentId: 'q', status: 'stalled' });
    const nested = buildTree([p, q, deep, ok], (t) => t.status === 'stalled');
    expect(shape(nested)).toEqual(['p(q(deep))']);
    expect([nested[0]!.autoOpen, nested[0]!.children[0]!.autoOpen]).toEqual([true, true]);
  });

  it('survives loops in the parent links and repeated ids: every task shows once', () => {
    const a = task('a', { parentId: 'b' });
    const b = task('b', { parentId: 'a' });
    const self = task('self', { parentId: 'self' });
    const c = task('c', { parentId: 'a' });
    const tree = buildTree([a, b, self, c, { ...a, version: 2 }]);
    expect(shape(tree)).toEqual(['b(a(c))', 'self']);
    const ids: string[] = [];
    const walk = (nodes: TreeNode[]): void =>
      nodes.forEach((n) => {
        ids.push(n.task.id);
        walk(n.children);
      });
    walk(tree);
    expect(ids.sort()).toEqual(['a', 'b', 'c', 'self']);
  });

  it('handles a chain 10,000 deep without overflowing the stack', () => {
    const chain = Array.from({ length: 10_000 }, (_, i) => task(`t${i}`, { parentId: i === 0 ? null : `t${i - 1}` }));
    const tree = buildTree(chain.slice().reverse(), (t) => t.id === 't9999');
    expect(tree).toHaveLength(1);
    let depth = 0;
    for (let n: TreeNode | undefined = tree[0]; n; n = n.children[0]) {
      depth++;
      if (n.task.id !== 't9999') expect(n.autoOpen).toBe(true);
    }
    expect(depth).toBe(10_000);
  });
});

describe('batch and stream helpers', () => {
  const batch = { progressFrom: 'children' as const, expectedChildren: 12, completeWhen: 'children' as const };

  it('says a batch’s counts in words, with the children still to come', () => {
    const t = task('b', { batch, children: counts({ total: 11, succeeded: 7, failed: 1, running: 3 }) });
    expect(batchSummary(t)).toBe('7 / 12 done · 1 failed · 3 running · 1 to come');
    expect(batchSummary(task('b', { batch }))).toBe('0 / 12 done · 12 to come');
    expect(batchSummary(task('plain'))).toBeNull();
    expect(batchOptions(t)).toEqual([
      'Progress is the mean of its children’s (over at least 12 children); a child not created yet counts 0.',
      'It ends by itself once every child has ended and 12 exist: done when all succeeded, else failed.',
    ]);
  });

  it('counts the unfinished children a cancel takes with it, nested ones included', () => {
    const nested = task('n', { parentId: 'b', children: counts({ total: 3, running: 2, succeeded: 1 }) });
    const b = task('b', { batch, children: counts({ total: 4, running: 2, queued: 1, failed: 1 }) });
    expect(unfinished(b, [nested, task('x', { parentId: 'b' })])).toBe(5);
    expect(cancelQuestion(b, [nested])).toBe('Cancel task b? It also cancels its 5 unfinished children.');
    expect(cancelQuestion(task('plain'))).toBe('Cancel task plain?');
  });

  it('measures UTF-8 sizes and draws only the tail of a long text, from a line start', () => {
    expect(['abc', 'é', '€', '😀'].map(utf8Bytes)).toEqual([3, 2, 3, 4]);
    expect(['a😀€'].map((s) => utf8Bytes(s) === new TextEncoder().encode(s).length)).toEqual([true]);
    expect([0, 1023, 2048, 3 * 1024 * 1024].map(formatBytes)).toEqual(['0 B', '1023 B', '2.0 KB', '3.0 MB']);
    expect(tailOf('short')).toBe('short');
    const long = Array.from({ length: 5_000 }, (_, i) => `line ${i}`).join('\n');
    const tail = tailOf(long, 1_000);
    expect(tail.length).toBeLessThanOrEqual(1_000);
    expect(long.endsWith(tail)).toBe(true);
    expect(tail.startsWith('line ')).toBe(true);
    expect(SHOWN_CHARS).toBeGreaterThan(10_000);
  });
});
