/**
 * Tab sharing against the real server, in Node: Node 24 has the same
 * BroadcastChannel and Web Locks (navigator.locks) as browsers, shared by every
 * client of the process, so several clients here behave as tabs of one origin.
 * (The browser proof, with real tabs closing and freezing, is
 * packages/react/test/tabs.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TaskwireClient } from '../src/index.js';
import { createClient, type SharedClientOptions } from '../src/share-entry.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { sleep, waitFor } from './helpers/wait.js';

let server: TestServer | undefined;
const clients: TaskwireClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await server?.close();
  server = undefined;
});

async function start(): Promise<TestServer> {
  return (server = await startTestServer());
}

function tab(opts: SharedClientOptions): TaskwireClient {
  const client = createClient({ shareAcrossTabs: true, ...opts });
  clients.push(client);
  client.connect();
  return client;
}

const ws = (s: TestServer): number => s.server.stats().connectionsByTransport.ws;
const connected = (cs: TaskwireClient[]): boolean => cs.every((c) => c.state === 'connected');

/** Records the offsets of a channel's events as one tab sees them. */
function follow(client: TaskwireClient, channel: string): { offsets: number[]; release: () => void } {
  const offsets: number[] = [];
  const handle = client.channel(channel);
  handle.subscribe((n) => {
    if (n.type === 'event') offsets.push(n.event.offset);
  });
  return { offsets, release: () => handle.release() };
}

const contiguous = (xs: number[]): boolean => xs.every((x, i) => i === 0 || x === (xs[i - 1] ?? 0) + 1);

describe('tab sharing in one process (Node’s BroadcastChannel and Web Locks)', () => {
  it('four tabs of one user open one WebSocket and all follow the same task', async () => {
    const s = await start();
    await s.api('POST', '/tasks', { id: 'share-1', owner: 'alice' });
    const token = await s.token({ sub: 'alice' });
    const tabs = [0, 1, 2, 3].map(() => tab({ url: s.wsUrl, getToken: () => token }));
    await waitFor('all four connected', () => connected(tabs));
    expect(ws(s)).toBe(1);
    const handles = tabs.map((c) => c.task('share-1'));
    await waitFor('every snapshot', () => handles.every((h) => h.snapshot?.id === 'share-1'));
    // One server subscription for the four tabs' handles.
    expect(s.server.stats().subscriptions).toBe(1);
    await s.api('PATCH', '/tasks/share-1', { status: 'running', progress: 40 });
    await waitFor('progress 40 in every tab', () => handles.every((h) => h.snapshot?.progress === 40));
    expect(tabs.map((c) => c.user)).toEqual(['alice', 'alice', 'alice', 'alice']);
    expect(ws(s)).toBe(1);
  });

  it('ref counts subscriptions across tabs: the server subscription ends with the last tab’s handle', async () => {
    const s = await start();
    await s.api('POST', '/tasks', { id: 'refs', owner: 'alice' });
    const token = await s.token({ sub: 'alice' });
    const a = tab({ url: s.wsUrl, token });
    const b = tab({ url: s.wsUrl, token });
    await waitFor('both connected', () => connected([a, b]));
    const ha = a.task('refs');
    const hb = b.task('refs');
    await waitFor('both subscribed', () => ha.state === 'subscribed' && hb.state === 'subscribed');
    expect(s.server.stats().subscriptions).toBe(1);
    ha.release();
    await sleep(100);
    expect(s.server.stats().subscriptions).toBe(1);
    hb.release();
    await waitFor('no subscription left', () => s.server.stats().subscriptions === 0);
  });

  it('the leader leaving hands over within 2 s, and 600 events published meanwhile reach every tab once, in order', async () => {
    const s = await start();
    const token = await s.token({ sub: 'alice', channels: ['room:*'] });
    const tabs = [0, 1, 2].map(() => tab({ url: s.wsUrl, getToken: () => token }));
    await waitFor('all connected', () => connected(tabs));
    const seen = tabs.map((c) => follow(c, 'room:handover'));
    await waitFor('three subscribed', () => s.server.stats().subscriptions === 1 && seen.length === 3);
    await sleep(50);
    const publish = async (from: number, to: number): Promise<void> => {
      for (let i = from; i <= to; i++) await s.api('POST', '/channels/room:handover/publish', { data: { i } });
    };
    await publish(1, 200);
    // The first tab to connect leads; disconnecting it mid-stream is a closing tab.
    const leader = tabs[0]!;
    const rest = tabs.slice(1);
    const during = publish(201, 600);
    await sleep(30);
    const t0 = Date.now();
    leader.disconnect();
    await waitFor('the others connected through a new leader', () => connected(rest) && ws(s) === 1, 2_000);
    const handover = Date.now() - t0;
    await during;
    const last = (await s.api<{ offset: number }>('GET', '/channels/room:handover/history?limit=0')).body.offset;
    await waitFor('every event in the remaining tabs', () => seen.slice(1).every((x) => x.offsets.at(-1) === last));
    for (const x of seen.slice(1)) {
      expect(x.offsets.length).toBe(600);
      expect(contiguous(x.offsets)).toBe(true);
    }
    expect(handover).toBeLessThan(2_000);
    expect(ws(s)).toBe(1);
  });

  it('two users never share: one connection each, each tab with its own user', async () => {
    const s = await start();
    const alice = await s.token({ sub: 'alice' });
    const bob = await s.token({ sub: 'bob' });
    const tabs = [
      tab({ url: s.wsUrl, token: alice }),
      tab({ url: s.wsUrl, token: bob }),
      tab({ url: s.wsUrl, token: alice }),
    ];
    await waitFor('all connected', () => connected(tabs));
    expect(ws(s)).toBe(2);
    expect(tabs.map((c) => c.user)).toEqual(['alice', 'bob', 'alice']);
  });

  it('without shareAcrossTabs every client keeps its own connection', async () => {
    const s = await start();
    const token = await s.token({ sub: 'alice' });
    const tabs = [0, 1].map(() => {
      const c = createClient({ url: s.wsUrl, token });
      clients.push(c);
      c.connect();
      return c;
    });
    await waitFor('both connected', () => connected(tabs));
    expect(ws(s)).toBe(2);
  });

  it('where BroadcastChannel is missing, each tab keeps its own connection, with the same behaviour', async () => {
    const s = await start();
    await s.api('POST', '/tasks', { id: 'solo', owner: 'alice' });
    const token = await s.token({ sub: 'alice' });
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'BroadcastChannel');
    let tabs: TaskwireClient[];
    try {
      Object.defineProperty(globalThis, 'BroadcastChannel', { value: undefined, configurable: true, writable: true });
      tabs = [0, 1].map(() => tab({ url: s.wsUrl, getToken: () => token }));
    } finally {
      if (saved) Object.defineProperty(globalThis, 'BroadcastChannel', saved);
    }
    await waitFor('both connected', () => connected(tabs));
    expect(ws(s)).toBe(2);
    const handles = tabs.map((c) => c.task('solo'));
    await s.api('PATCH', '/tasks/solo', { status: 'running', progress: 7 });
    await waitFor('progress in both', () => handles.every((h) => h.snapshot?.progress === 7));
  });

  it("the leader refreshes its expiring token with another tab's getToken", async () => {
    const s = await start();
    const exp = Math.floor(Date.now() / 1000) + 3;
    const short = await s.token({ sub: 'alice', exp });
    let asked = 0;
    const leader = tab({ url: s.wsUrl, token: short }); // no getToken of its own
    await waitFor('the leader connected', () => leader.state === 'connected');
    const follower = tab({
      url: s.wsUrl,
      getToken: () => {
        asked += 1;
        return s.token({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600 });
      },
    });
    await waitFor('the follower connected', () => follower.state === 'connected');
    const states: string[] = [];
    leader.on('state', (e) => states.push(e.newState));
    await sleep(4_500); // past the first token's exp: a refresh, or the server would have closed with 4001
    expect(asked).toBeGreaterThanOrEqual(2); // once to read its user, once for the leader's refresh
    expect(states).toEqual([]);
    expect(ws(s)).toBe(1);
  });
});
