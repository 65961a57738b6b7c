/**
 * Three real taskwire nodes on one real Redis, real WebSocket clients: events cross
 * nodes, recovery works on another node, and concurrent updates from every node to
 * one task lose nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAllNodes, startNode, token, until, type TaskwireNode } from './helpers/nodes.js';
import { Redis } from 'ioredis';
import { startCluster, startRedis, stopAllRedis } from './helpers/redis.js';
import { ChannelFollower, WsClient } from './helpers/ws.js';

const clients: WsClient[] = [];
async function connect(node: TaskwireNode, sub: string, channels: string[] = []): Promise<WsClient> {
  const c = await WsClient.connect(node.wsUrl, token({ sub, channels, publish: channels }));
  clients.push(c);
  return c;
}

let a: TaskwireNode;
let b: TaskwireNode;
let c: TaskwireNode;

beforeAll(async () => {
  const redis = await startRedis();
  const start = (name: string): Promise<TaskwireNode> => startNode(name, { url: redis.url, prefix: 'mn' });
  [a, b, c] = await Promise.all([start('A'), start('B'), start('C')]);
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await closeAllNodes();
  await stopAllRedis();
});

describe('three nodes on one Redis', () => {
  it('delivers to a client on node A the task events posted through node B', async () => {
    const created = await b.api('POST', '/tasks', { owner: 'alice', title: 'cross-node' });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const client = await connect(a, 'alice');
    const sub = await client.subscribe(`task:${id}`);
    expect(sub.snapshot).toMatchObject({ id, version: 1 });
    const feed = await client.subscribe('user:alice');
    expect(feed.epoch).toEqual(expect.any(String));
    expect((await b.api('PATCH', `/tasks/${id}`, { status: 'running', progress: 10 })).status).toBe(200);
    const onTask = await client.next((f) => f.type === 'event' && f.channel === `task:${id}`, 'task event');
    const onFeed = await client.next((f) => f.type === 'event' && f.channel === 'user:alice', 'user feed event');
    expect(onTask.data).toMatchObject({
      kind: 'task.updated',
      task: { id, status: 'running', progress: 10, version: 2 },
    });
    expect(onFeed.data).toMatchObject({ kind: 'task.updated', task: { id, version: 2 } });
  });

  it('delivers room publishes across nodes, and recovers gaplessly on node C with since', async () => {
    const room = 'room:relay';
    const first = await connect(a, 'bob', ['room:*']);
    const follower = new ChannelFollower();
    follower.begin(await first.subscribe(room));
    for (let i = 1; i <= 5; i++) {
      expect((await b.api('POST', `/channels/${room}/publish`, { data: { i } })).status).toBe(200);
    }
    await until(() => first.events.length === 5, 'five events on node A');
    for (const e of first.events) follower.apply(e);
    first.destroy();
    // Missed while disconnected: published through B, with nobody of ours listening on A.
    for (let i = 6; i <= 10; i++) await b.api('POST', `/channels/${room}/publish`, { data: { i } });
    const second = await connect(c, 'bob', ['room:*']);
    const resumed = await second.subscribe(room, { epoch: follower.epoch, offset: follower.offset });
    expect(resumed.recovered).toBe(true);
    follower.begin(resumed);
    for (let i = 11; i <= 15; i++) await a.api('POST', `/channels/${room}/publish`, { data: { i } });
    await until(() => second.events.length === 5, 'five live events on node C');
    for (const e of second.events) follower.apply(e);
    expect(follower.gaps).toBe(0);
    expect(follower.repeats).toBe(0);
    expect(follower.data).toEqual(Array.from({ length: 15 }, (_, i) => ({ i: i + 1 })));
  });

  it('applies 10,000 concurrent updates from three nodes to one task: versions +1, none lost', async () => {
    const created = await a.api('POST', '/tasks', { owner: 'carol', title: 'contended' });
    const id = created.body.id as string;
    const watcher = await connect(b, 'carol');
    await watcher.subscribe(`task:${id}`);
    const total = 10_000;
    const nodes = [a, b, c];
    const versions: number[] = [];
    const failures: unknown[] = [];
    // Parallel batches: 30 requests in flight (10 per node), every message unique so each is a change.
    const inFlight = 30;
    let nextIndex = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async (_, lane) => {
        for (let i = nextIndex++; i < total; i = nextIndex++) {
          const node = nodes[lane % 3]!;
          const res = await node.api('PATCH', `/tasks/${id}`, { message: `m${i}` });
          if (res.status === 200) versions.push(res.body.version as number);
          else failures.push(res.body);
        }
      }),
    );
    expect(failures).toEqual([]);
    expect(versions).toHaveLength(total);
    expect([...versions].sort((x, y) => x - y)).toEqual(Array.from({ length: total }, (_, i) => i + 2));
    const final = await c.api('GET', `/tasks/${id}`);
    expect(final.body.version).toBe(total + 1);
    // The live stream seen on node B: every version once, in order.
    await until(() => watcher.events.length === total, 'every update delivered', 60_000);
    const seen = watcher.events.map((e) => e.data.task.version as number);
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => i + 2));
  }, 240_000);
});

describe('two nodes on a 3-master Redis Cluster (sharded pub/sub)', () => {
  it('delivers task and user feed events across nodes through SSUBSCRIBE', async () => {
    const cluster = await startCluster();
    const x = await startNode('X', { cluster: cluster.urls, prefix: 'cl' });
    const y = await startNode('Y', { cluster: cluster.urls, prefix: 'cl' });
    const ids: string[] = [];
    // Several tasks, so their channels spread over the three shards.
    for (let i = 0; i < 6; i++) ids.push((await y.api('POST', '/tasks', { owner: 'hana' })).body.id as string);
    const client = await connect(x, 'hana');
    for (const id of ids) await client.subscribe(`task:${id}`);
    await client.subscribe('user:hana');
    // Each channel has exactly one sharded subscription in the whole cluster (SSUBSCRIBE
    // only succeeds on the shard that owns the channel's slot).
    const admins = cluster.nodes.map((n) => new Redis(n.url));
    try {
      for (const id of ids) {
        const counts = await Promise.all(
          admins.map(
            async (r) => ((await r.call('PUBSUB', 'SHARDNUMSUB', `cl:{task:${id}}:ps`)) as [string, number])[1],
          ),
        );
        expect(counts.reduce((sum, n) => sum + n, 0)).toBe(1);
      }
    } finally {
      for (const r of admins) r.disconnect();
    }
    for (const id of ids) expect((await y.api('PATCH', `/tasks/${id}`, { progress: 50 })).status).toBe(200);
    await until(() => client.events.length === 2 * ids.length, 'task and feed events on node X');
    const onTasks = client.events.filter((e) => e.channel !== 'user:hana');
    expect(onTasks.map((e) => e.channel as string).sort()).toEqual(ids.map((id) => `task:${id}`).sort());
    const feed = client.events.filter((e) => e.channel === 'user:hana');
    // The user feed keeps its own gapless offsets: 6 creates, then the 6 updates.
    expect(feed.map((e) => e.offset as number)).toEqual([7, 8, 9, 10, 11, 12]);
  });
});
