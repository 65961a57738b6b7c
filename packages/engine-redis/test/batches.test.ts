/**
 * Batches across nodes on Redis: 200 children of one parent, created and updated
 * concurrently (progress, terminal statuses, some cancelled) through 3 nodes on one
 * Redis, and 60 through 2 nodes on a 3-master Redis Cluster (the parent and its
 * children on different shards). Every subscriber's last parent snapshot must equal
 * the function of docs/protocol.md §1 computed here from the children, within 1 s of
 * the last change.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { closeAllNodes, sleep, startNode, token, type TaskwireNode } from './helpers/nodes.js';
import { startCluster, startRedis, stopAllRedis } from './helpers/redis.js';
import { WsClient } from './helpers/ws.js';

const clients: WsClient[] = [];
afterAll(async () => {
  for (const client of clients) client.destroy();
  await closeAllNodes();
  await stopAllRedis();
});

interface Snapshot {
  id: string;
  status: string;
  progress: number | null;
  version: number;
  children: Record<string, number> | null;
}

/** §1, written again here from the contract: counts by status, and the mean over the slots. */
function expected(
  children: Snapshot[],
  expectedChildren: number,
): { counts: Record<string, number>; progress: number } {
  const counts: Record<string, number> = { total: 0, queued: 0, running: 0, stalled: 0, awaiting_approval: 0 };
  Object.assign(counts, { succeeded: 0, failed: 0, cancelled: 0 });
  let sum = 0;
  for (const c of children) {
    counts.total = (counts.total ?? 0) + 1;
    counts[c.status] = (counts[c.status] ?? 0) + 1;
    sum += ['succeeded', 'failed', 'cancelled'].includes(c.status) ? 100 : (c.progress ?? 0);
  }
  return { counts, progress: Math.round((sum / Math.max(children.length, expectedChildren)) * 100) / 100 };
}

async function allChildren(node: TaskwireNode, parent: string): Promise<Snapshot[]> {
  const out: Snapshot[] = [];
  let cursor = '';
  for (let page = 0; page < 10; page++) {
    const res = await node.api('GET', `/tasks?parent=${parent}&limit=500${cursor ? `&cursor=${cursor}` : ''}`);
    out.push(...(res.body.tasks as Snapshot[]));
    if (!res.body.nextCursor) break;
    cursor = res.body.nextCursor as string;
  }
  return out;
}

async function raceBatch(nodes: TaskwireNode[], size: number, watcherNode: TaskwireNode): Promise<void> {
  const parent = `batch-${Math.random().toString(36).slice(2, 8)}`;
  const created = await nodes[0]!.api('POST', '/tasks', {
    id: parent,
    owner: 'ada',
    batch: { expectedChildren: size },
  });
  expect(created.status).toBe(201);
  const watcher = await WsClient.connect(watcherNode.wsUrl, token({ sub: 'ada' }));
  clients.push(watcher);
  await watcher.subscribe(`task:${parent}`);
  const on = (i: number): TaskwireNode => nodes[i % nodes.length]!;
  // Create concurrently, each child through a different node.
  const made = await Promise.all(
    Array.from({ length: size }, (_, i) =>
      on(i).api('POST', '/tasks', { id: `${parent}-${i}`, owner: 'ada', parentId: parent }),
    ),
  );
  expect(made.map((r) => r.status).every((s) => s === 201)).toBe(true);
  // Progress, then an end, each change through another node than the last one.
  await Promise.all(
    Array.from({ length: size }, async (_, i) => {
      const id = `${parent}-${i}`;
      expect((await on(i + 1).api('PATCH', `/tasks/${id}`, { progress: (i * 37) % 100 })).status).toBe(200);
      expect((await on(i + 2).api('PATCH', `/tasks/${id}`, { progress: (i * 53) % 100 })).status).toBe(200);
      const end =
        i % 7 === 0
          ? on(i).api('POST', `/tasks/${id}/cancel`)
          : i % 3 === 0
            ? Promise.resolve({ status: 200 }) // left running
            : on(i).api('PATCH', `/tasks/${id}`, { status: i % 11 === 0 ? 'failed' : 'succeeded' });
      expect((await end).status).toBe(200);
    }),
  );
  const lastChange = Date.now();
  const children = await allChildren(nodes[0]!, parent);
  expect(children).toHaveLength(size);
  const want = expected(children, size);
  let caughtUp = -1;
  for (let waited = 0; waited < 5000; waited += 20) {
    const last = watcher.events.filter((f) => f.channel === `task:${parent}`).at(-1)?.data?.task as
      Snapshot | undefined;
    if (last && JSON.stringify(last.children) === JSON.stringify(want.counts) && last.progress === want.progress) {
      caughtUp = Date.now() - lastChange;
      break;
    }
    await sleep(20);
  }
  expect(caughtUp, 'the subscriber’s last parent snapshot matches its children').toBeGreaterThanOrEqual(0);
  expect(caughtUp).toBeLessThan(1000);
  // And what every node answers is the same snapshot.
  for (const node of nodes) {
    const p = (await node.api('GET', `/tasks/${parent}`)).body as Snapshot;
    expect(p.children).toEqual(want.counts);
    expect(p.progress).toBe(want.progress);
  }
}

describe('batches across nodes', () => {
  it('200 children through 3 nodes on one Redis: the parent is the function of its children within 1 s', async () => {
    const redis = await startRedis();
    const nodes = await Promise.all(['A', 'B', 'C'].map((n) => startNode(n, { url: redis.url, prefix: 'bt' })));
    await raceBatch(nodes, 200, nodes[1]!);
  });

  it('60 children through 2 nodes on a 3-master Redis Cluster: the same', async () => {
    const cluster = await startCluster();
    const nodes = await Promise.all(['X', 'Y'].map((n) => startNode(n, { cluster: cluster.urls, prefix: 'bc' })));
    await raceBatch(nodes, 60, nodes[0]!);
  });
});
