/**
 * The Redis outbox's two steps, which the conformance suite cannot see: a mark left by
 * a commit that lost its race is removed when found empty; a mark whose commit is
 * under way (its intent counter lives) is kept, so its message cannot be stranded; and
 * list() repairs an index entry a crash left in the wrong place, and drops one
 * without a message once it is old.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { OutboxMessage } from '@taskwire/server/engine';
import { makeTask } from '@taskwire/server/testing';
import { RedisEngine } from '../src/index.js';
import { startRedis, stopAllRedis, type RedisServer } from './helpers/redis.js';

let redis: RedisServer;
let admin: Redis;
let e: RedisEngine;
const P = 'obx';
const MARKS = `${P}:{idx}:wh:marks`;

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
  e = new RedisEngine({ url: redis.url, prefix: P });
  await e.start();
});
afterAll(async () => {
  await e.close();
  admin.disconnect();
  await stopAllRedis();
});

let n = 0;
function message(taskId: string, createdAt = Date.now() - 10): OutboxMessage {
  n += 1;
  return { id: `msg_t${n}`, endpoint: 'http://127.0.0.1/x', taskId, type: 'task.cancelled', body: '{}', createdAt };
}

async function created(id: string, webhooks: OutboxMessage[] = []): Promise<void> {
  const r = await e.commit({ task: makeTask({ id }), expectedVersion: 0, events: [], stallAt: null, webhooks });
  expect(r.ok).toBe(true);
}

it('removes the mark of a commit that lost its race once found empty, and keeps nothing of its message', async () => {
  await created('race');
  const lost = message('race');
  const r = await e.commit({
    task: makeTask({ id: 'race', version: 3 }),
    expectedVersion: 2,
    events: [],
    stallAt: null,
    webhooks: [lost],
  });
  expect(r.ok).toBe(false);
  expect(await admin.zscore(MARKS, 'race')).not.toBeNull();
  expect(await admin.hget(`${P}:{idx}:wh:task`, lost.id)).toBeNull();
  expect(await admin.exists(`${P}:{task:race}:whi`)).toBe(0);
  expect(await e.outbox.claim(Date.now(), 10, 1000, 'A')).toEqual([]);
  expect(await admin.zscore(MARKS, 'race')).toBeNull();
});

it('keeps a mark while its commit may still land, so the message is claimed when it does', async () => {
  await created('slow');
  const m = message('slow');
  // A node announced and marked a commit, then (say) stalled before commit.lua ran.
  await e.outbox.beforeCommit('slow', [m]);
  expect(await e.outbox.claim(Date.now(), 10, 1000, 'A')).toEqual([]);
  expect(await admin.zscore(MARKS, 'slow')).not.toBeNull();
  // The commit lands late: its message is found through the mark that was kept.
  const keys = e.outbox.commitKeys('slow');
  await admin.hset(keys[0]!, m.id, JSON.stringify(m), `${m.id}:st`, JSON.stringify(stateOf(m)), `${m.id}:at`, '[]');
  await admin.rpush(keys[1]!, m.id);
  await admin.del(keys[2]!);
  expect((await e.outbox.claim(Date.now(), 10, 1000, 'A')).map((x) => x.id)).toEqual([m.id]);
  // An intent that expires (its node died before the commit) lets an empty queue's mark go.
  const never = message('slow');
  await e.outbox.beforeCommit('slow', [never]);
  await admin.del(keys[2]!);
  expect(await e.outbox.settle(m.id, 'A', { kind: 'delivered', attempt: { at: Date.now(), status: 200 } })).toBe(true);
  await e.outbox.claim(Date.now(), 10, 1000, 'A');
  expect(await admin.zscore(MARKS, 'slow')).toBeNull();
  await e.outbox.afterConflict([never]);
});

it('repairs an index entry left in the wrong set, and drops an old one without a message', async () => {
  const m = message('fix');
  await created('fix', [m]);
  expect((await e.outbox.claim(Date.now(), 10, 1000, 'A')).map((x) => x.id)).toEqual([m.id]);
  expect(await e.outbox.settle(m.id, 'A', { kind: 'delivered', attempt: { at: Date.now(), status: 204 } })).toBe(true);
  // As if the node died between settling in the task's slot and moving the index entry.
  await admin.zrem(`${P}:{idx}:wh:delivered`, m.id);
  await admin.zadd(`${P}:{idx}:wh:pending`, Date.now() * 1000, m.id);
  // And a message whose commit never happened, marked two minutes ago.
  const ghost = message('fix', Date.now() - 120_000);
  await e.outbox.beforeCommit('fix', [ghost]);
  await admin.del(`${P}:{task:fix}:whi`);
  expect((await e.outbox.counts()).pending).toBe(2);

  expect(await e.outbox.list('pending', 10)).toEqual([]);
  expect(await admin.zscore(`${P}:{idx}:wh:delivered`, m.id)).not.toBeNull();
  expect(await admin.hget(`${P}:{idx}:wh:task`, ghost.id)).toBeNull();
  expect(await e.outbox.counts()).toMatchObject({ pending: 0, delivered: 2, failed: 0, oldestPendingAt: null });
  // Newest first: this one, then the delivered message of the test before.
  expect((await e.outbox.list('delivered', 10)).map((x) => x.id)).toEqual([m.id, 'msg_t2']);
});

function stateOf(m: OutboxMessage): Record<string, unknown> {
  return { status: 'pending', nextAt: m.createdAt, owner: '', until: 0, endpoint: m.endpoint };
}
