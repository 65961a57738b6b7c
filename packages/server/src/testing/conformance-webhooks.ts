/**
 * Conformance: the webhook outbox (engine/types.ts Outbox). Messages stored with their
 * commit (all or none), only the oldest pending one of an endpoint and task claimable,
 * leases (exclusive, taken over once expired, required to settle), retry, list, get,
 * counts. Engines backed by shared storage hold other tests' messages too, so every
 * test uses its own endpoints and tasks and looks only at those.
 */
import { describe, expect, it } from 'vitest';
import type { Engine, Outbox, OutboxMessage, StoredWebhook, WebhookOutcome } from '../engine/types.js';
import { createReq, makeTask, uid, type OpenEngine } from './helpers.js';

const BIG = 1000;

function outboxOf(e: Engine): Outbox {
  expect(e.outbox).toBeDefined();
  return e.outbox as Outbox;
}

function message(taskId: string, endpoint: string, createdAt: number, type = 'task.succeeded'): OutboxMessage {
  const id = uid('msg_');
  return { id, endpoint, taskId, type, body: JSON.stringify({ type, id, n: createdAt }), createdAt };
}

/** A new task, committed with `messages(taskId)`. */
async function taskWith(e: Engine, messages: (taskId: string) => OutboxMessage[]): Promise<string> {
  const t = makeTask({ id: uid('wh-'), status: 'running' });
  const r = await e.commit(createReq(t, { webhooks: messages(t.id) }));
  expect(r.ok).toBe(true);
  return t.id;
}

/** Another commit of the task (version `version` + 1) with `webhooks`. */
async function change(e: Engine, taskId: string, version: number, webhooks: OutboxMessage[]): Promise<boolean> {
  const task = makeTask({ id: taskId, status: 'running', version: version + 1, message: `v${version + 1}` });
  return (await e.commit({ task, expectedVersion: version, events: [], stallAt: null, webhooks })).ok;
}

/** What `owner` claims at `now`, of the endpoints given. */
async function claimed(box: Outbox, now: number, owner: string, endpoints: string[], leaseMs = 600_000) {
  const got = await box.claim(now, BIG, leaseMs, owner);
  return got.filter((m) => endpoints.includes(m.endpoint)).map((m) => m.id);
}

const ok = (at: number): WebhookOutcome => ({ kind: 'delivered', attempt: { at, status: 200 } });
const gone = (at: number): WebhookOutcome => ({ kind: 'failed', attempt: { at, status: 410 } });

export function describeWebhookConformance(engine: OpenEngine): void {
  describe('webhook outbox', () => {
    it('stores messages with their commit, and none with a commit that loses compare-and-set', async () => {
      const e = await engine();
      const box = outboxOf(e);
      const ep = `http://127.0.0.1/${uid('a')}`;
      const now = Date.now();
      const first = message('', ep, now - 10);
      const taskId = await taskWith(e, (id) => [{ ...first, taskId: id }]);
      expect(await box.get(first.id)).toMatchObject({
        id: first.id,
        taskId,
        endpoint: ep,
        type: first.type,
        body: first.body,
        createdAt: first.createdAt,
        status: 'pending',
        attempts: [],
        nextAt: first.createdAt,
      });
      const lost = message(taskId, ep, now - 5);
      expect(await change(e, taskId, 7, [lost])).toBe(false);
      expect(await box.get(lost.id)).toBeNull();
      expect(await claimed(box, now, 'A', [ep])).toEqual([first.id]);
      const pending = await box.list('pending', BIG);
      expect(pending.map((m) => m.id)).not.toContain(lost.id);
      // The next commit's message is stored, behind the first.
      const next = message(taskId, ep, now);
      expect(await change(e, taskId, 1, [next])).toBe(true);
      expect(await box.get(next.id)).toMatchObject({ status: 'pending', taskId });
    });

    it('hands out only the oldest pending message of each endpoint and task, in the order of the changes', async () => {
      const e = await engine();
      const box = outboxOf(e);
      const [a, b] = [`http://127.0.0.1/${uid('a')}`, `http://127.0.0.1/${uid('b')}`];
      const now = Date.now();
      const m1 = message('', a, now - 30);
      const m2 = message('', a, now - 30, 'task.failed');
      const n1 = message('', b, now - 30);
      const taskId = await taskWith(e, (id) => [m1, m2, n1].map((m) => ({ ...m, taskId: id })));
      const m3 = message(taskId, a, now - 20);
      expect(await change(e, taskId, 1, [m3])).toBe(true);
      // Another task's queue on the same endpoint is independent.
      const o1 = message('', a, now - 25);
      await taskWith(e, (id) => [{ ...o1, taskId: id }]);

      expect((await claimed(box, now, 'A', [a, b])).sort()).toEqual([m1.id, n1.id, o1.id].sort());
      expect(await claimed(box, now, 'A', [a, b])).toEqual([]);
      expect(await box.settle(m1.id, 'A', ok(now))).toBe(true);
      expect(await claimed(box, now, 'A', [a, b])).toEqual([m2.id]);
      // A retry later keeps the queue waiting behind it.
      const later = now + 60_000;
      const again: WebhookOutcome = { kind: 'retry', attempt: { at: now, status: 500 }, nextAt: later };
      expect(await box.settle(m2.id, 'A', again)).toBe(true);
      expect(await box.get(m2.id)).toMatchObject({ status: 'pending', nextAt: later, attempts: [{ status: 500 }] });
      expect(await claimed(box, now + 1000, 'A', [a])).toEqual([]);
      expect(await claimed(box, later, 'A', [a])).toEqual([m2.id]);
      expect(await box.settle(m2.id, 'A', ok(later))).toBe(true);
      expect(await claimed(box, later, 'A', [a])).toEqual([m3.id]);
    });

    it('leases a message to one owner at a time, lets another take it once the lease expired, and settles only for the holder', async () => {
      const e = await engine();
      const box = outboxOf(e);
      const ep = `http://127.0.0.1/${uid('a')}`;
      const now = Date.now();
      const m = message('', ep, now - 10);
      await taskWith(e, (id) => [{ ...m, taskId: id }]);
      const [fromA, fromB] = await Promise.all([
        claimed(box, now, 'A', [ep], 1000),
        claimed(box, now, 'B', [ep], 1000),
      ]);
      expect([...fromA, ...fromB]).toEqual([m.id]);
      const [holder, other] = fromA.length === 1 ? ['A', 'B'] : ['B', 'A'];
      expect(await claimed(box, now + 500, other, [ep], 1000)).toEqual([]);
      expect(await box.settle(m.id, other, ok(now + 500))).toBe(false);
      // Expired: the other owner takes it over, and the first can no longer settle it.
      expect(await claimed(box, now + 1500, other, [ep], 1000)).toEqual([m.id]);
      expect(await box.settle(m.id, holder, ok(now + 1600))).toBe(false);
      expect(await box.settle(m.id, other, ok(now + 1700))).toBe(true);
      expect(await box.settle(m.id, other, ok(now + 1800))).toBe(false);
      expect(await box.get(m.id)).toMatchObject({ status: 'delivered', attempts: [{ at: now + 1700, status: 200 }] });
      expect(await claimed(box, now + 60_000, other, [ep], 1000)).toEqual([]);
    });

    it('retries a failed message at the back of its queue', async () => {
      const e = await engine();
      const box = outboxOf(e);
      const ep = `http://127.0.0.1/${uid('a')}`;
      const now = Date.now();
      const m1 = message('', ep, now - 20);
      const m2 = message('', ep, now - 10);
      await taskWith(e, (id) => [m1, m2].map((m) => ({ ...m, taskId: id })));
      expect(await claimed(box, now, 'A', [ep])).toEqual([m1.id]);
      expect(await box.settle(m1.id, 'A', gone(now))).toBe(true);
      expect(await box.get(m1.id)).toMatchObject({ status: 'failed', attempts: [{ status: 410 }] });
      expect(await claimed(box, now, 'A', [ep])).toEqual([m2.id]);
      const retried = await box.retry(m1.id, now + 100);
      expect(retried).toMatchObject({ id: m1.id, status: 'pending', nextAt: now + 100, attempts: [{ status: 410 }] });
      // Behind m2, which is still out.
      expect(await claimed(box, now + 200, 'B', [ep])).toEqual([]);
      expect(await box.settle(m2.id, 'A', ok(now + 200))).toBe(true);
      expect(await claimed(box, now + 300, 'B', [ep])).toEqual([m1.id]);
      // Not failed (now pending): returned as it is; unknown: null.
      expect(await box.retry(m1.id, now + 400)).toMatchObject({ status: 'pending', nextAt: now + 100 });
      expect(await box.retry(uid('msg_none'), now)).toBeNull();
      expect(await box.settle(m1.id, 'B', ok(now + 500))).toBe(true);
      expect(await box.get(m1.id)).toMatchObject({ status: 'delivered' });
    });

    it('lists messages by status newest first with a cursor, gets one, and counts them', async () => {
      const e = await engine();
      const box = outboxOf(e);
      const ep = `http://127.0.0.1/${uid('a')}`;
      const now = Date.now();
      const before = await box.counts();
      // Not due yet (nobody claims them), and newer than anything else pending.
      const p1 = message('', ep, now + 3_600_000);
      const p2 = message('', ep, now + 3_600_001);
      await taskWith(e, (id) => [{ ...p1, taskId: id }]);
      const t2 = await taskWith(e, (id) => [{ ...p2, taskId: id }]);
      const [d, f] = [message(t2, `${ep}/d`, now - 10), message(t2, `${ep}/f`, now - 10)];
      expect(await change(e, t2, 1, [d, f])).toBe(true);
      expect((await claimed(box, now, 'A', [d.endpoint, f.endpoint])).sort()).toEqual([d.id, f.id].sort());
      expect(await box.settle(d.id, 'A', ok(now))).toBe(true);
      expect(await box.settle(f.id, 'A', gone(now))).toBe(true);

      const after = await box.counts();
      expect(after.pending - before.pending).toBe(2);
      expect(after.delivered - before.delivered).toBe(1);
      expect(after.failed - before.failed).toBe(1);
      expect(after.oldestPendingAt).not.toBeNull();
      expect(after.oldestPendingAt as number).toBeLessThanOrEqual(p1.createdAt);

      const page = await box.list('pending', 2);
      expect(page.map((m) => m.id)).toEqual([p2.id, p1.id]);
      const first = await box.list('pending', 1);
      expect(first.map((m) => m.id)).toEqual([p2.id]);
      const second = await box.list('pending', 1, p2.id);
      expect(second.map((m) => m.id)).toEqual([p1.id]);
      const ids = (list: StoredWebhook[]): string[] => list.map((m) => m.id);
      expect(ids(await box.list('delivered', BIG))).toContain(d.id);
      expect(ids(await box.list('delivered', BIG))).not.toContain(f.id);
      expect(ids(await box.list('failed', BIG))).toContain(f.id);
      expect((await box.list('failed', BIG)).find((m) => m.id === f.id)).toMatchObject({
        status: 'failed',
        endpoint: f.endpoint,
        taskId: t2,
        attempts: [{ at: now, status: 410 }],
      });
      expect(await box.get(p2.id)).toMatchObject({ status: 'pending', body: p2.body });
      expect(await box.get(uid('msg_none'))).toBeNull();
    });
  });
}
