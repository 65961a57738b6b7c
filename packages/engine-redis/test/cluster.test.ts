/**
 * Redis Cluster specifics: sharded subscriptions come back after their connections
 * drop, and what was published meanwhile is handed over from the streams.
 */
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import type { Engine, StoredEvent } from '@taskwire/server';
import { createRedisEngine } from '../src/index.js';
import { until } from './helpers/nodes.js';
import { startCluster, stopAllRedis } from './helpers/redis.js';

const engines: Engine[] = [];
afterAll(async () => {
  await Promise.allSettled(engines.map((e) => e.close()));
  await stopAllRedis();
});

it('resubscribes sharded subscriptions after their connections drop and catches up', async () => {
  const cluster = await startCluster();
  const notices: string[] = [];
  const logger = {
    debug: () => undefined,
    info: (_obj: unknown, msg?: string) => void notices.push(msg ?? ''),
    warn: () => undefined,
    error: () => undefined,
  };
  const e = createRedisEngine({ cluster: cluster.urls, prefix: 'cs', logger });
  const other = createRedisEngine({ cluster: cluster.urls, prefix: 'cs' });
  engines.push(e, other);
  await Promise.all([e.start(), other.start()]);
  // Enough channels to land on every shard.
  const channels = Array.from({ length: 9 }, (_, i) => `room:c${i}`);
  const got = new Map<string, number[]>(channels.map((ch) => [ch, []]));
  for (const ch of channels) await e.subscribe(ch, (ev: StoredEvent) => got.get(ev.channel)?.push(ev.offset));
  for (const ch of channels) await other.publish({ channel: ch, data: 1 });
  await until(() => channels.every((ch) => got.get(ch)?.length === 1), 'first events');

  for (const node of cluster.nodes) {
    const admin = new Redis(node.url);
    try {
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    } finally {
      admin.disconnect();
    }
  }
  // Published while the sharded subscribers are (probably) reconnecting.
  for (const ch of channels) await other.publish({ channel: ch, data: 2 });
  await until(() => channels.every((ch) => got.get(ch)?.length === 2), 'missed events handed over');
  for (const ch of channels) await other.publish({ channel: ch, data: 3 });
  await until(() => channels.every((ch) => got.get(ch)?.length === 3), 'live again');
  for (const ch of channels) expect(got.get(ch)).toEqual([1, 2, 3]);
  expect(notices).toContain('redis engine: broker connection back; catching up');
}, 30_000);
