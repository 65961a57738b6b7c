/**
 * Streams under chaos (issue 12): a 200 KiB text streamed in 2,000 chunks while 20
 * clients subscribe at random moments behind a proxy that cuts connections at random.
 * Every text a client ever shows is a prefix of the server's (nothing doubled or out
 * of order on the way), and every client ends with exactly the server's text.
 * History keeps the default 1,000 events, so clients that were away too long recover
 * by reading the text again, not only by replay.
 *
 * Duration: TASKWIRE_STREAM_CHAOS_MS (default 20 s).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { StreamTextResult } from '@taskwire/protocol';
import { createClient, type StreamHandle, type TaskwireClient } from '../src/index.js';
import { api, tokenFor } from './helpers/http.js';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { restartable, type Restartable } from './helpers/server.js';
import { sleep, waitFor } from './helpers/wait.js';

const DURATION_MS = Number(process.env.TASKWIRE_STREAM_CHAOS_MS ?? 20_000);
const CLIENTS = 20;
const CHUNKS = 2_000;

/** Chunk i: about 100 bytes, numbered, with multi-byte characters. */
const chunk = (i: number): string => `[${i}] ${'ünïcødé 🚀 '.repeat(4)}${'-'.repeat(40)}\n`.slice(0, 96);

let server: Restartable | undefined;
let proxy: TestProxy | undefined;
const clients: TaskwireClient[] = [];
afterAll(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await proxy?.close();
  await server?.close();
});

describe('stream chaos', () => {
  it(
    `${CHUNKS} chunks, ${CLIENTS} clients joining at random behind a cutting proxy: each ends with the server's text`,
    async () => {
      const s = (server = await restartable());
      const p = (proxy = await startProxy(s.port));
      const base = `http://127.0.0.1:${s.port}`;
      await api(base, 'POST', '/tasks', { id: 'essay', owner: 'writer', stallTimeoutMs: 0 });
      await api(base, 'PATCH', '/tasks/essay', { progress: 0 });

      const expected = Array.from({ length: CHUNKS }, (_, i) => chunk(i)).join('');
      expect(Buffer.byteLength(expected)).toBeGreaterThan(200 * 1024);
      const followers: Array<{ stream: StreamHandle; states: number; bad: string | null }> = [];
      const join = async (i: number): Promise<void> => {
        const client = createClient({
          url: `ws://127.0.0.1:${p.port}/api/v1/ws`,
          token: await tokenFor(s.current, { sub: `reader-${i}`, channels: ['task:*'] }),
          backoff: { minMs: 50, maxMs: 1_000 },
        });
        clients.push(client);
        client.connect();
        const stream = client.task('essay').stream('output');
        const follower = { stream, states: 0, bad: null as string | null };
        let before = 0;
        stream.subscribe(({ text }) => {
          follower.states += 1;
          // The new part against the server's text at the same place; now and then, and
          // whenever the text did not just grow, the whole of it.
          const whole = follower.states % 100 === 0 || text.length < before;
          const ok = whole ? expected.startsWith(text) : text.slice(before) === expected.slice(before, text.length);
          if (!ok && follower.bad === null) follower.bad = text.slice(-200);
          before = text.length;
        });
        followers.push(follower);
      };
      // Each client joins at a random moment of the first 80 % of the run.
      const joins = Array.from({ length: CLIENTS }, (_, i) =>
        sleep(Math.random() * DURATION_MS * 0.8).then(() => join(i)),
      );

      const stopChaos = p.chaos(200, 2_000);
      const started = Date.now();
      for (let i = 0; i < CHUNKS; i++) {
        await api(base, 'POST', '/tasks/essay/stream', { text: chunk(i), index: i });
        const due = started + (i * DURATION_MS * 0.9) / CHUNKS;
        if (due > Date.now()) await sleep(due - Date.now());
      }
      await api(base, 'PATCH', '/tasks/essay', { status: 'succeeded' });
      await Promise.all(joins);
      stopChaos();

      const server_ = await api<StreamTextResult>(base, 'GET', '/tasks/essay/streams/output');
      expect(server_).toEqual({ stream: 'output', text: expected, chunks: CHUNKS });
      await waitFor(
        'every client to hold the whole text',
        () => followers.every((f) => f.stream.getSnapshot().done),
        30_000,
      );
      for (const [i, { stream, states, bad }] of followers.entries()) {
        expect(stream.getSnapshot(), `client ${i}`).toEqual({ text: expected, chunks: CHUNKS, done: true });
        expect(bad, `client ${i} showed a text that is not a prefix of the server's`).toBeNull();
        expect(states).toBeGreaterThan(1);
      }
      expect(p.accepted).toBeGreaterThan(CLIENTS * 2);
      console.log(`stream chaos: ${p.accepted} connections for ${CLIENTS} clients in ${Date.now() - started} ms`);
    },
    DURATION_MS + 90_000,
  );
});
