/**
 * Retention on Redis, with real nodes (protocol 1.1 §8): with `--task-ttl 2s` a finished
 * tree disappears with its history and streams, whichever node sweeps, while a running
 * task is untouched; a subscriber on another node gets `unsubscribed` with `reason:
 * "deleted"`, the owner's feed one `task.deleted` per task; 3,000 tasks through 2
 * nodes leave Redis with no more keys than it started with. On one Redis and on a
 * 3-master Redis Cluster (the tree's tasks on different shards).
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { closeAllNodes, startNode, token, until, type TaskwireNode } from './helpers/nodes.js';
import { startCluster, startRedis, stopAllRedis } from './helpers/redis.js';
import { WsClient } from './helpers/ws.js';

const clients: WsClient[] = [];
afterAll(async () => {
  for (const client of clients) client.destroy();
  await closeAllNodes();
  await stopAllRedis();
});

/** Keys matching `pattern` on every master that never expire (no TTL): what retention must keep bounded. */
async function lastingKeys(urls: readonly string[], pattern: string): Promise<string[]> {
  const out: string[] = [];
  for (const url of urls) {
    const r = new Redis(url);
    try {
      const keys = await r.keys(pattern);
      const ttls = await Promise.all(keys.map((k) => r.pttl(k)));
      out.push(...keys.filter((_, i) => ttls[i] === -1));
    } finally {
      r.disconnect();
    }
  }
  return out.sort();
}

describe.each([
  ['one Redis', async () => ({ urls: [(await startRedis()).url], cluster: false })],
  ['a 3-master Redis Cluster', async () => ({ urls: (await startCluster()).urls, cluster: true })],
] as const)('retention on %s', (_name, start) => {
  it('--task-ttl 2s: a finished tree goes with its history and streams on every node; a running task stays', async () => {
    const { urls, cluster } = await start();
    const prefix = `ret${cluster ? 'c' : 's'}`;
    const engine = cluster ? { cluster: urls, prefix } : { url: urls[0]!, prefix };
    const a = await startNode('a', engine, { taskTtlMs: 2000 });
    const b = await startNode('b', engine, { taskTtlMs: 2000 });
    const ids = ['root', 'k1', 'k2', 'k3'].map((s) => `${prefix}-${s}`);
    expect((await a.api('POST', '/tasks', { id: ids[0], owner: 'ada', batch: {} })).status).toBe(201);
    for (const id of ids.slice(1)) {
      expect((await b.api('POST', '/tasks', { id, owner: 'ada', parentId: ids[0] })).status).toBe(201);
    }
    expect((await a.api('POST', `/tasks/${ids[1]!}/stream`, { text: 'chunk' })).status).toBe(200);
    const running = `${prefix}-running`;
    await a.api('POST', '/tasks', { id: running, owner: 'ada', stallTimeoutMs: 0 });
    await a.api('PATCH', `/tasks/${running}`, { progress: 3 });
    const before = (await b.api('GET', `/tasks/${running}`)).body as { version: number };

    const watcher = await WsClient.connect(b.wsUrl, token({ sub: 'ada' }));
    clients.push(watcher);
    for (const id of ids) await watcher.subscribe(`task:${id}`);
    await watcher.subscribe('user:ada');

    const bad = await b.api('DELETE', `/tasks/${ids[0]!}`);
    expect([bad.status, bad.body.error.code]).toEqual([409, 'conflict']);
    for (const id of [...ids.slice(1), ids[0]!]) {
      expect((await a.api('PATCH', `/tasks/${id}`, { status: 'running' })).status).toBe(200);
      expect((await b.api('PATCH', `/tasks/${id}`, { status: 'succeeded' })).status).toBe(200);
    }
    await until(async () => (await a.api('GET', `/tasks/${ids[0]!}`)).status === 404, 'the tree swept', 12_000);
    for (const id of ids) {
      const ended = await watcher.next((f) => f.type === 'unsubscribed' && f.channel === `task:${id}`, `end ${id}`);
      expect(ended).toMatchObject({ code: 'not_found', resubscribe: false, reason: 'deleted' });
      for (const node of [a, b]) {
        expect((await node.api('GET', `/tasks/${id}`)).status).toBe(404);
        expect((await node.api('GET', `/tasks/${id}/streams/output`)).status).toBe(404);
        expect((await node.api('GET', `/channels/task:${id}/history`)).body).toMatchObject({ offset: 0, events: [] });
      }
    }
    await until(() => watcher.events.filter((e) => e.data?.kind === 'task.deleted').length === 4, 'feed events');
    const deleted = watcher.events.filter((e) => e.data?.kind === 'task.deleted').map((e) => e.data.taskId as string);
    expect(deleted.sort()).toEqual([...ids].sort());
    const listed = (await a.api('GET', `/tasks?owner=ada`)).body as { tasks: Array<{ id: string }> };
    expect(listed.tasks.map((t) => t.id)).toEqual([running]);
    expect((await a.api('GET', `/tasks/${running}`)).body).toMatchObject({
      status: 'running',
      version: before.version,
    });
    await Promise.all([a.close(), b.close()]);
  }, 60_000);

  it('3,000 tasks created and finished through 2 nodes: Redis holds no more lasting keys than before', async () => {
    const { urls, cluster } = await start();
    const prefix = `bnd${cluster ? 'c' : 's'}`;
    const engine = cluster ? { cluster: urls, prefix } : { url: urls[0]!, prefix };
    const nodes: TaskwireNode[] = [
      await startNode('a', engine, { taskTtlMs: 2000 }),
      await startNode('b', engine, { taskTtlMs: 2000 }),
    ];
    const owners = ['u1', 'u2'];
    // The owners' channels exist from the start: they hold the feed, trimmed by --history-size.
    for (const owner of owners) await nodes[0]!.api('POST', `/channels/user:${owner}/publish`, { data: 'hello' });
    const baseline = await lastingKeys(urls, `${prefix}:*`);
    let next = 0;
    const worker = async (w: number): Promise<void> => {
      const node = nodes[w % 2]!;
      const tasks = node.server.ctx.tasks;
      for (let i = next++; i < 3000; i = next++) {
        const { task } = await tasks.create({ owner: owners[i % 2]!, title: `job ${i}` });
        await tasks.cancel(task.id);
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
    // The sweep's claims, create keys and publish keys expire on their own; tasks and channels are deleted.
    await until(
      async () => (await nodes[0]!.api('GET', '/tasks?limit=10')).body.tasks.length === 0,
      'every task swept',
      30_000,
    );
    // Beyond the baseline only keys that expire by themselves (dedupe keys, claims, channel positions).
    expect(await lastingKeys(urls, `${prefix}:*`)).toEqual(baseline);
    for (const node of nodes) expect((await node.api('GET', '/stats')).body.engineSubscriptions).toBe(0);
    await Promise.all(nodes.map((n) => n.close()));
  }, 120_000);
});
