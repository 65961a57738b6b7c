/**
 * Refused tokens against the real server: the client stops in `unauthorized`
 * after at most 3 attempts, and makes no further connection. Attempts are counted
 * server-side, at a TCP proxy in front of the server. The "no traffic for 60 s"
 * part is proven with fake time in connection.test.ts; here we check over a bounded
 * real wait that nothing is scheduled (state stays, proxy count stays).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type StateEvent, type TaskwireClient } from '../src/index.js';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { sleep, waitFor } from './helpers/wait.js';

let server: TestServer | undefined;
let proxy: TestProxy | undefined;
const clients: TaskwireClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await proxy?.close();
  await server?.close();
  proxy = server = undefined;
});

const FAST = { minMs: 20, maxMs: 200, longMinMs: 50 };

async function through(
  config: { clockLeewaySec?: number } = {},
): Promise<{ s: TestServer; p: TestProxy; url: string }> {
  const s = (server = await startTestServer(config));
  const p = (proxy = await startProxy(Number(new URL(s.url).port)));
  return { s, p, url: `ws://127.0.0.1:${p.port}/api/v1/ws` };
}

describe('refused tokens', () => {
  it('an invalid token: one attempt, state unauthorized, no reconnect', async () => {
    const { s, p, url } = await through();
    // Flip the signature's FIRST character: all its 6 bits are signature bits. (The last
    // character of a 43-character HS256 signature carries 2 padding bits, so swapping
    // A↔B there can decode to the same signature and leave the token valid.)
    const [head, body, sig] = (await s.token({ sub: 'alice' })).split('.') as [string, string, string];
    const forged = `${head}.${body}.${sig.startsWith('A') ? 'Q' : 'A'}${sig.slice(1)}`;
    const getTokenCalls: number[] = [];
    const client = createClient({ url, token: forged, getToken: () => (getTokenCalls.push(1), forged), backoff: FAST });
    clients.push(client);
    const states: StateEvent[] = [];
    client.on('state', (e) => states.push(e));
    client.connect();
    await waitFor('unauthorized', () => client.state === 'unauthorized');
    await sleep(1_500);
    expect(p.accepted).toBe(1);
    expect(getTokenCalls).toHaveLength(0);
    expect(client.state).toBe('unauthorized');
    expect(states.at(-1)).toMatchObject({ newState: 'unauthorized', code: 4501 });
  });

  it('getToken keeps returning expired tokens: at most 3 attempts, then unauthorized and silence', async () => {
    const { s, p, url } = await through();
    const expired = await s.token({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 3600 });
    let calls = 0;
    const client = createClient({
      url,
      getToken: () => {
        calls += 1;
        return expired;
      },
      backoff: FAST,
    });
    clients.push(client);
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    client.connect();
    await waitFor('unauthorized', () => client.state === 'unauthorized');
    const attempts = p.accepted;
    await sleep(1_500);
    expect(attempts).toBeLessThanOrEqual(3);
    expect(p.accepted).toBe(attempts);
    expect(calls).toBeLessThanOrEqual(2);
    expect(errors).toContain('unauthorized');
  });

  it('a token that expires while connected: 4001, getToken, reconnect, and the subscription recovers', async () => {
    // No clock leeway, so the server closes the connection as soon as the token expires.
    const { s: s2, url: url2 } = await through({ clockLeewaySec: 0 });
    await s2.api('POST', '/tasks', { id: 'job', owner: 'alice' });
    const short = await s2.token({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 2 });
    const fresh = await s2.token({ sub: 'alice' });
    let calls = 0;
    const client = createClient({
      url: url2,
      token: short,
      // The first proactive refresh fails on purpose, so the server closes with 4001.
      getToken: () => (++calls === 1 ? Promise.reject(new Error('auth service down')) : fresh),
      backoff: FAST,
    });
    clients.push(client);
    const codes: number[] = [];
    client.on('state', (e) => codes.push(e.code));
    client.connect();
    const task = client.task('job');
    await waitFor('subscribed', () => task.state === 'subscribed');
    await waitFor('the 4001 and a reconnect', () => codes.includes(4001) && client.state === 'connected', 10_000);
    await s2.api('PATCH', '/tasks/job', { status: 'running', progress: 50 });
    await waitFor('the update after reconnect', () => task.snapshot?.progress === 50);
  });
});
