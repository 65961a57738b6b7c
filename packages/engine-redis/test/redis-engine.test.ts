/**
 * Redis-specific behaviour the conformance suite cannot see: data loss renews
 * epochs, an unreachable Redis fails fast with `unavailable`, the broker resubscribes
 * and catches up after reconnecting, and the derived half of a commit left behind is
 * replayed by the next commit.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, StoredEvent } from '@taskwire/server';
import { makeTask } from '@taskwire/server/testing';
import type { Task } from '@taskwire/protocol';
import { createRedisEngine } from '../src/index.js';
import { freePort, startRedis, stopAllRedis, type RedisServer } from './helpers/redis.js';
import { sleep, until } from './helpers/nodes.js';

let redis: RedisServer;
const engines: Engine[] = [];

const notices: string[] = [];
const logger = {
  debug: () => undefined,
  info: (_obj: unknown, msg?: string) => void notices.push(msg ?? ''),
  warn: () => undefined,
  error: () => undefined,
};

function engine(prefix = 'eng'): Engine {
  const e = createRedisEngine({ url: redis.url, prefix, commandTimeoutMs: 1000, logger });
  engines.push(e);
  return e;
}

function task(id: string, owner = 'alice'): Task {
  const at = new Date().toISOString();
  return makeTask({ id, owner, status: 'running', createdAt: at, updatedAt: at, startedAt: at });
}

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await Promise.allSettled(engines.map((e) => e.close()));
  await stopAllRedis();
});

describe('redis engine', () => {
  it('fails start with unavailable when Redis is not there, and stops trying', async () => {
    const port = await freePort();
    const e = createRedisEngine({ url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 500 });
    await expect(e.start()).rejects.toMatchObject({ code: 'unavailable' });
    await expect(e.ping()).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('renews epochs after Redis lost its data, fails fast while it is down, and recovers', async () => {
    const e = engine();
    await e.start();
    const before = (await e.publish({ channel: 'room:r', data: 1 })).event;
    await redis.stop();
    await expect(e.ping()).rejects.toMatchObject({ code: 'unavailable' });
    await expect(e.publish({ channel: 'room:r', data: 2 })).rejects.toMatchObject({ code: 'unavailable' });
    await expect(
      e.commit({ task: task('t-down'), expectedVersion: 0, events: [], stallAt: null }),
    ).rejects.toMatchObject({
      code: 'unavailable',
    });
    await redis.start();
    await until(
      async () =>
        e.ping().then(
          () => true,
          () => false,
        ),
      'ping succeeds again',
    );
    const after = (await e.publish({ channel: 'room:r', data: 3 })).event;
    expect(after.offset).toBe(1);
    expect(after.epoch).not.toBe(before.epoch);
    const h = await e.history('room:r', { since: { epoch: before.epoch, offset: 1 }, limit: 10 });
    expect(h).toMatchObject({ recovered: false, events: [], epoch: after.epoch, offset: 1 });
    expect(await e.getTask('t-down')).toBeNull();
  });

  it('resubscribes after the connection came back and hands over what was missed', async () => {
    const e = engine();
    const other = engine();
    await e.start();
    await other.start();
    const got: StoredEvent[] = [];
    await e.subscribe('room:back', (ev) => got.push(ev));
    await other.publish({ channel: 'room:back', data: 1 });
    await until(() => got.length === 1, 'first event');
    // Cut only the subscriber connections of `e` (CLIENT KILL TYPE pubsub): commands keep working.
    const admin = new Redis(redis.url);
    try {
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await other.publish({ channel: 'room:back', data: 2 });
      await until(() => got.length === 2, 'the missed event, caught up or delivered');
      await other.publish({ channel: 'room:back', data: 3 });
      await until(() => got.length === 3, 'live again');
    } finally {
      admin.disconnect();
    }
    expect(got.map((ev) => ev.offset)).toEqual([1, 2, 3]);
    expect(got.map((ev) => ev.data)).toEqual([1, 2, 3]);
    expect(notices.some((m) => m.includes('broker connection back'))).toBe(true);
  });

  it('keeps one broker subscription per channel however many listeners', async () => {
    const e = engine();
    await e.start();
    const admin = new Redis(redis.url);
    try {
      const channelName = 'eng:{room:counted}:ps';
      const unsubs = await Promise.all(Array.from({ length: 5 }, () => e.subscribe('room:counted', () => undefined)));
      const counts = (await admin.call('PUBSUB', 'NUMSUB', channelName)) as [string, number];
      expect(counts[1]).toBe(1);
      for (const u of unsubs) await u();
      await until(
        async () => ((await admin.call('PUBSUB', 'NUMSUB', channelName)) as [string, number])[1] === 0,
        'released',
      );
      expect(e.stats().subscriptions).toBe(0);
    } finally {
      admin.disconnect();
    }
  });

  it('replays the derived writes (user feed, indexes) a commit left behind', async () => {
    const e = engine('replay');
    await e.start();
    const admin = new Redis(redis.url);
    try {
      const t = task('t-replay', 'dora');
      const feed: StoredEvent[] = [];
      await e.subscribe('user:dora', (ev) => feed.push(ev));
      // A commit whose derived half never ran (its node died right after commit.lua):
      // simulate by writing what commit.lua writes, job included, by hand.
      const job = {
        id: 'job-lost',
        taskId: t.id,
        version: 1,
        owner: 'dora',
        member: `${t.createdAt} ${t.id}`,
        stallAt: null,
        mirror: [{ index: 0, channel: 'user:dora', data: JSON.stringify({ v: 1 }) }],
      };
      await admin.hset('replay:{task:t-replay}:task', 'json', JSON.stringify(t), 'version', '1', 'stallAt', '');
      await admin.rpush('replay:{task:t-replay}:pending', JSON.stringify(job));
      expect((await e.listTasks({ owner: 'dora', limit: 10 })).tasks).toEqual([]);
      const r = await e.commit({
        task: { ...t, version: 2 },
        expectedVersion: 1,
        events: [{ channel: 'user:dora', data: { v: 2 } }],
        stallAt: null,
      });
      expect(r.ok).toBe(true);
      await until(() => feed.length === 2, 'both feed events');
      expect(feed.map((ev) => [ev.offset, ev.data])).toEqual([
        [1, { v: 1 }],
        [2, { v: 2 }],
      ]);
      expect((await e.listTasks({ owner: 'dora', limit: 10 })).tasks.map((x) => x.version)).toEqual([2]);
      expect(await admin.llen('replay:{task:t-replay}:pending')).toBe(0);
      await sleep(50);
      expect(feed).toHaveLength(2);
    } finally {
      admin.disconnect();
    }
  });

  it('commits when the derived writes fail, and retries them in the background', async () => {
    const e = engine('defer');
    await e.start();
    const admin = new Redis(redis.url);
    try {
      // Break the {idx} slot's writes: index.lua fails with WRONGTYPE on this key.
      await admin.set('defer:{idx}:stallv', 'not a hash');
      const t = task('t-defer', 'ivy');
      const r = await e.commit({ task: t, expectedVersion: 0, events: [], stallAt: Date.now() + 60_000 });
      expect(r.ok).toBe(true);
      expect(await e.getTask(t.id)).toEqual(t);
      expect(await admin.llen('defer:{task:t-defer}:pending')).toBe(1);
      await admin.del('defer:{idx}:stallv');
      await until(async () => (await admin.llen('defer:{task:t-defer}:pending')) === 0, 'the retry applied the job');
      expect((await e.listTasks({ owner: 'ivy', limit: 10 })).tasks).toEqual([t]);
    } finally {
      admin.disconnect();
    }
  });
});
