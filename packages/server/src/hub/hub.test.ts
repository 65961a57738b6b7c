import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TaskwireError } from '@taskwire/protocol';
import { createMemoryEngine, type MemoryEngine } from '../engine/memory/memory-engine.js';
import type { Engine, EventListener, HistoryRequest, HistoryResult, StoredEvent } from '../engine/types.js';
import { createHub } from './hub.js';
import { RateCounter } from './rates.js';
import type { EncodedEvent, Subscriber } from './types.js';

const logger = pino({ level: 'silent' });

type Ended = { channel: string; code: string; resubscribe: boolean };

class Sink implements Subscriber {
  readonly frames: EncodedEvent[] = [];
  readonly offsets: number[] = [];
  readonly endings: Ended[] = [];
  onDeliver: ((offset: number) => void) | null = null;
  constructor(readonly id: string) {}
  deliver(_channel: string, frame: EncodedEvent, offset: number): void {
    this.frames.push(frame);
    this.offsets.push(offset);
    this.onDeliver?.(offset);
  }
  ended(channel: string, info: { code: string; resubscribe: boolean }): void {
    this.endings.push({ channel, code: info.code, resubscribe: info.resubscribe });
  }
}

/** The memory engine with some methods replaced. */
function wrap(base: MemoryEngine, over: Partial<Pick<Engine, 'subscribe' | 'history' | 'getTask'>>): Engine {
  return {
    kind: 'memory',
    start: () => base.start(),
    getTask: over.getTask ?? ((id) => base.getTask(id)),
    listTasks: (r) => base.listTasks(r),
    children: (p) => base.children(p),
    appendStream: (r) => base.appendStream(r),
    readStream: (id, s) => base.readStream(id, s),
    commit: (r) => base.commit(r),
    lookupIdempotency: (k) => base.lookupIdempotency(k),
    publish: (r) => base.publish(r),
    history: over.history ?? ((c, r) => base.history(c, r)),
    dueStalls: (n, l) => base.dueStalls(n, l),
    expired: (r) => base.expired(r),
    deleteTrees: (r) => base.deleteTrees(r),
    claim: (k, t) => base.claim(k, t),
    subscribe: over.subscribe ?? ((c, l) => base.subscribe(c, l)),
    ping: () => base.ping(),
    stats: () => base.stats(),
    close: () => base.close(),
  };
}

/** A promise with its resolve function, to hold an engine call open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

async function publishN(engine: Engine, channel: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await engine.publish({ channel, data: { i } });
}

describe('Hub', () => {
  it('shares one engine subscription per channel and releases it with the last subscriber', async () => {
    const engine = createMemoryEngine();
    const hub = createHub(engine, { logger, recoveryLimit: 500, historySize: 1000 });
    const subs = [new Sink('a'), new Sink('b'), new Sink('c')];
    for (const s of subs) {
      await hub.subscribe(s, 'room:x', { snapshot: false });
      hub.activate(s, 'room:x');
    }
    expect(engine.stats().subscriptions).toBe(1);
    expect(hub.stats()).toMatchObject({ channels: 1, subscriptions: 3, engineSubscriptions: 1 });
    hub.unsubscribe(subs[0]!, 'room:x');
    hub.removeSubscriber(subs[1]!);
    expect(engine.stats().subscriptions).toBe(1);
    hub.removeSubscriber(subs[2]!);
    hub.removeSubscriber(subs[2]!); // idempotent
    await tick();
    expect(engine.stats().subscriptions).toBe(0);
    expect(hub.stats()).toMatchObject({ channels: 0, subscriptions: 0, engineSubscriptions: 0 });
  });

  it('releases the engine subscription when the last subscriber leaves while it is being opened', async () => {
    const base = createMemoryEngine();
    const g = gate();
    const engine = wrap(base, {
      subscribe: async (c, l) => {
        await g.promise;
        return base.subscribe(c, l);
      },
    });
    const hub = createHub(engine, { logger, recoveryLimit: 500, historySize: 1000 });
    const a = new Sink('a');
    const pending = hub.subscribe(a, 'room:x', { snapshot: false });
    hub.removeSubscriber(a);
    g.open();
    await expect(pending).rejects.toMatchObject({ code: 'unavailable' });
    await tick();
    expect(base.stats().subscriptions).toBe(0);
    expect(hub.stats()).toMatchObject({ channels: 0, subscriptions: 0, engineSubscriptions: 0 });

    // A subscriber arriving after the release gets a fresh, working subscription.
    const b = new Sink('b');
    await hub.subscribe(b, 'room:x', { snapshot: false });
    hub.activate(b, 'room:x');
    await base.publish({ channel: 'room:x', data: 1 });
    expect(b.offsets).toEqual([1]);
    expect(base.stats().subscriptions).toBe(1);
  });

  it('encodes each event once and hands the same bytes to every subscriber', async () => {
    const engine = createMemoryEngine();
    const hub = createHub(engine, { logger, recoveryLimit: 500, historySize: 1000 });
    const subs = [new Sink('a'), new Sink('b')];
    for (const s of subs) {
      await hub.subscribe(s, 'room:x', { snapshot: false });
      hub.activate(s, 'room:x');
    }
    const { event } = await engine.publish({ channel: 'room:x', data: { hello: 'wörld' } });
    const [fa, fb] = [subs[0]!.frames[0]!, subs[1]!.frames[0]!];
    expect(fa).toBe(fb);
    expect(JSON.parse(fa.payload.toString())).toEqual({
      type: 'event',
      channel: 'room:x',
      epoch: event.epoch,
      offset: 1,
      time: event.time,
      data: { hello: 'wörld' },
    });
    expect(hub.stats()).toMatchObject({ eventsIn: 1, eventsOut: 2 });
  });

  it('subscribes gaplessly: events published while the subscribe is being read are flushed after the reply position', async () => {
    const base = createMemoryEngine();
    await publishN(base, 'room:x', 5);
    const g = gate();
    const engine = wrap(base, {
      history: async (c, r) => {
        if (r.limit > 0) await g.promise; // hold the history read of the subscribe
        return base.history(c, r);
      },
    });
    const hub = createHub(engine, { logger, recoveryLimit: 500, historySize: 1000 });
    const s = new Sink('s');
    const pending = hub.subscribe(s, 'room:x', { snapshot: false, history: 3 });
    await tick();
    await publishN(base, 'room:x', 4); // 6..9 arrive while pending
    g.open();
    const result = await pending;
    expect(result.offset).toBe(5);
    expect(result.events.map((e) => e.offset)).toEqual([3, 4, 5]);
    expect(s.offsets).toEqual([]);
    hub.activate(s, 'room:x');
    expect(s.offsets).toEqual([6, 7, 8, 9]);
    await publishN(base, 'room:x', 1);
    expect(s.offsets).toEqual([6, 7, 8, 9, 10]);
  });

  it('recovers exactly the missed events with since, all or nothing', async () => {
    const engine = createMemoryEngine({ historySize: 50 });
    const hub = createHub(engine, { logger, recoveryLimit: 20, historySize: 50 });
    await publishN(engine, 'room:x', 10);
    const epoch = (await engine.history('room:x', { limit: 0 })).epoch;

    const ok = await hub.subscribe(new Sink('a'), 'room:x', { snapshot: false, since: { epoch, offset: 4 } });
    expect(ok).toMatchObject({ recovered: true, offset: 10 });
    expect(ok.events.map((e) => e.offset)).toEqual([5, 6, 7, 8, 9, 10]);

    const otherEpoch = await hub.subscribe(new Sink('b'), 'room:x', {
      snapshot: false,
      since: { epoch: 'zzz', offset: 4 },
    });
    expect(otherEpoch).toMatchObject({ recovered: false, events: [], offset: 10, epoch });

    await publishN(engine, 'room:x', 60); // offsets 11..70; history keeps 21..70
    const trimmed = await hub.subscribe(new Sink('c'), 'room:x', { snapshot: false, since: { epoch, offset: 60 } });
    expect(trimmed).toMatchObject({ recovered: true });
    expect(trimmed.events).toHaveLength(10);
  });

  it('answers recovered:false without reading the events when more than the recovery limit were missed', async () => {
    const base = createMemoryEngine();
    const reads: HistoryRequest[] = [];
    const engine = wrap(base, {
      history: (c, r) => {
        reads.push(r);
        return base.history(c, r);
      },
    });
    const hub = createHub(engine, { logger, recoveryLimit: 5, historySize: 1000 });
    await publishN(base, 'room:x', 10);
    const epoch = (await base.history('room:x', { limit: 0 })).epoch;
    const r = await hub.subscribe(new Sink('a'), 'room:x', { snapshot: false, since: { epoch, offset: 4 } });
    expect(r).toMatchObject({ recovered: false, events: [], offset: 10 });
    expect(reads.filter((q) => q.since)).toEqual([]);
    const beyond = await hub.subscribe(new Sink('b'), 'room:x', { snapshot: false, since: { epoch, offset: 99 } });
    expect(beyond).toMatchObject({ recovered: false, events: [] });
  });

  it('includes the task snapshot for task channels', async () => {
    const engine = createMemoryEngine();
    const hub = createHub(engine, { logger, recoveryLimit: 500, historySize: 1000 });
    const r = await hub.subscribe(new Sink('a'), 'task:nope', { snapshot: true });
    expect(r).toMatchObject({ channel: 'task:nope', offset: 0, events: [], snapshot: null });
    const room = await hub.subscribe(new Sink('a'), 'room:x', { snapshot: true });
    expect(room).not.toHaveProperty('snapshot');
    expect(room).not.toHaveProperty('recovered');
  });

  it('refuses a second subscribe of the same subscriber to the same channel', async () => {
    const hub = createHub(createMemoryEngine(), { logger, recoveryLimit: 500, historySize: 1000 });
    const a = new Sink('a');
    await hub.subscribe(a, 'room:x', { snapshot: false });
    await expect(hub.subscribe(a, 'room:x', { snapshot: false })).rejects.toBeInstanceOf(TaskwireError);
    expect(hub.stats().subscriptions).toBe(1);
  });

  it('keeps delivering to the others when a subscriber throws or is removed during delivery', async () => {
    const engine = createMemoryEngine();
    const hub = createHub(engine, { logger, recoveryLimit: 500, historySize: 1000 });
    const thrower = new Sink('thrower');
    thrower.onDeliver = () => {
      throw new Error('boom');
    };
    const a = new Sink('a');
    const b = new Sink('b');
    a.onDeliver = () => hub.removeSubscriber(b); // removes b while the event is being delivered
    for (const s of [thrower, a, b]) {
      await hub.subscribe(s, 'room:x', { snapshot: false });
      hub.activate(s, 'room:x');
    }
    await publishN(engine, 'room:x', 2);
    expect(a.offsets).toEqual([1, 2]);
    expect(thrower.offsets).toEqual([1, 2]);
    expect(b.offsets).toEqual([]);
  });
});

/** An engine whose broker the test drives by hand: events can be lost, repeated or come from another epoch. */
class ScriptedBroker {
  listener: EventListener | null = null;
  stored: StoredEvent[] = [];
  epoch = 'e1';
  historyCalls = 0;

  event(offset: number, epoch = this.epoch): StoredEvent {
    return { channel: 'room:x', epoch, offset, time: 1, data: offset };
  }
  store(n: number): StoredEvent[] {
    const start = this.stored.length + 1;
    const added = Array.from({ length: n }, (_, i) => this.event(start + i));
    this.stored.push(...added);
    return added;
  }
  engine(): Engine {
    const base = createMemoryEngine();
    return wrap(base, {
      subscribe: (_c, l) => {
        this.listener = l;
        return Promise.resolve(() => Promise.resolve());
      },
      history: (_c, r): Promise<HistoryResult> => {
        this.historyCalls += 1;
        const top = this.stored.length;
        if (!r.since)
          return Promise.resolve({
            epoch: this.epoch,
            offset: top,
            recovered: true,
            events: this.stored.slice(top - r.limit),
          });
        const ok = r.since.epoch === this.epoch && r.since.offset <= top;
        const events = ok ? this.stored.slice(r.since.offset, r.since.offset + r.limit) : [];
        return Promise.resolve({ epoch: this.epoch, offset: top, recovered: ok, events });
      },
    });
  }
}

describe('Hub gap detection', () => {
  async function setup(): Promise<{ broker: ScriptedBroker; s: Sink }> {
    const broker = new ScriptedBroker();
    const hub = createHub(broker.engine(), { logger, recoveryLimit: 500, historySize: 1000 });
    const s = new Sink('s');
    await hub.subscribe(s, 'room:x', { snapshot: false });
    hub.activate(s, 'room:x');
    return { broker, s };
  }

  it('fills a gap in what the broker delivers from history, then drops duplicates', async () => {
    const { broker, s } = await setup();
    const events = broker.store(5);
    broker.listener!(events[0]!);
    broker.listener!(events[3]!); // 2 and 3 were lost
    broker.listener!(events[4]!);
    await tick();
    broker.listener!(events[2]!); // a late duplicate
    expect(s.offsets).toEqual([1, 2, 3, 4, 5]);
    expect(s.endings).toEqual([]);
  });

  it('ends every subscription with resubscribe:true when a gap cannot be filled', async () => {
    const { broker, s } = await setup();
    broker.listener!(broker.event(3)); // 1 and 2 are not in history either
    await tick();
    expect(s.offsets).toEqual([]);
    expect(s.endings).toEqual([{ channel: 'room:x', code: 'unavailable', resubscribe: true }]);
  });

  it('ends every subscription with resubscribe:true when the epoch changes', async () => {
    const { broker, s } = await setup();
    broker.listener!(broker.event(1, 'e2'));
    expect(s.endings).toEqual([{ channel: 'room:x', code: 'unavailable', resubscribe: true }]);
  });
});

describe('RateCounter', () => {
  it('reports the count of the last complete second without timers', () => {
    let now = 10_000;
    const r = new RateCounter(() => now);
    r.add(3);
    r.add(2);
    expect(r.perSecond()).toBe(0);
    now += 1000;
    expect(r.perSecond()).toBe(5);
    now += 2000;
    expect(r.perSecond()).toBe(0);
    expect(r.total).toBe(5);
  });
});
