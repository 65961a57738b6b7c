import { once } from 'node:events';
import websocket from '@fastify/websocket';
import Fastify from 'fastify';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { signDevToken } from '../src/config/resolve.js';
import { taskwirePlugin } from '../src/app/plugin.js';
import { installSignalHandlers } from '../src/app/signals.js';
import { startTestServer, TEST_API_KEY, TEST_JWT_SECRET } from './helpers/server.js';
import { TestClient, eventually } from './helpers/ws-client.js';

describe('server lifecycle', () => {
  it('graceful close: every WebSocket gets 1012, close() is idempotent, nothing is left behind', async () => {
    const t = await startTestServer();
    const token = await t.token({ sub: 'alice' });
    const clients = await Promise.all([1, 2, 3].map(() => TestClient.authed(t.wsUrl, token)));
    for (const c of clients) await c.request({ op: 'subscribe', channel: 'user:alice' });
    expect(t.server.stats()).toMatchObject({ connections: 3, subscriptions: 3 });
    await Promise.all([t.close(), t.close(), t.server.close()]);
    for (const c of clients) expect(await c.closeCodeWithin()).toBe(1012);
    expect(t.server.stats()).toMatchObject({ connections: 0, subscriptions: 0, engineSubscriptions: 0, timers: 0 });
    await expect(fetch(`${t.url}/healthz`)).rejects.toThrow();
  });

  it('taskwirePlugin mounts taskwire inside an existing Fastify app and closes with it', async () => {
    const app = Fastify({ routerOptions: { maxParamLength: 256 } });
    app.get('/hello', () => ({ hello: 'world' }));
    await app.register(taskwirePlugin, {
      engine: 'memory',
      jwtSecret: TEST_JWT_SECRET,
      apiKey: TEST_API_KEY,
      logLevel: 'silent',
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      expect(await (await fetch(`${base}/hello`)).json()).toEqual({ hello: 'world' });
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const created = await fetch(`${base}/api/v1/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'hosted', owner: 'alice' }),
      });
      expect(created.status).toBe(201);
      const token = await signDevToken(app.taskwire.ctx.config, { sub: 'alice' });
      const c = await TestClient.authed(`${base.replace(/^http/, 'ws')}/api/v1/ws`, token);
      const reply = await c.request({ op: 'subscribe', channel: 'task:hosted' });
      expect(reply.result.snapshot.id).toBe('hosted');
      expect(app.taskwire.stats().connections).toBe(1);
      await app.close();
      expect(await c.closeCodeWithin()).toBe(1012);
      expect(app.taskwire.ctx.engine.stats().subscriptions).toBe(0);
    } finally {
      await app.close();
    }
  });

  it.each(['before', 'after'])(
    "shares the HTTP server with the host app's own WebSocket routes (@fastify/websocket registered %s taskwire)",
    async (order) => {
      const app = Fastify({ routerOptions: { maxParamLength: 256 } });
      const hostWebSockets = async (): Promise<void> => {
        await app.register(websocket);
        await app.register((scope, _opts, done) => {
          scope.get('/chat', { websocket: true }, (socket) => {
            socket.on('message', (m: Buffer) => socket.send(`echo ${m.toString()}`));
          });
          done();
        });
      };
      if (order === 'before') await hostWebSockets();
      await app.register(taskwirePlugin, {
        engine: 'memory',
        jwtSecret: TEST_JWT_SECRET,
        apiKey: TEST_API_KEY,
        logLevel: 'silent',
        dashboard: false,
        docs: false,
      });
      if (order === 'after') await hostWebSockets();
      const base = (await app.listen({ port: 0, host: '127.0.0.1' })).replace(/^http/, 'ws');
      try {
        const chat = new WebSocket(`${base}/chat`);
        await new Promise((resolve, reject) => chat.once('open', resolve).once('error', reject));
        chat.send('hi');
        const [echo] = (await once(chat, 'message')) as [Buffer];
        expect(echo.toString()).toBe('echo hi');
        chat.close();
        const token = await signDevToken(app.taskwire.ctx.config, { sub: 'alice' });
        const c = await TestClient.authed(`${base}/api/v1/ws`, token);
        expect((await c.request({ op: 'subscribe', channel: 'user:alice' })).result).toMatchObject({ offset: 0 });
        expect((await c.request({ op: 'ping' })).result).toEqual({});
        expect(app.taskwire.stats().connections).toBe(1);
        // Taskwire's frame limit holds whoever upgraded the socket.
        c.send({ op: 'ping', id: 9, pad: 'x'.repeat(app.taskwire.ctx.config.maxFrameBytes) });
        expect(await c.closeCodeWithin()).toBe(1009);
        await eventually(() => app.taskwire.stats().connections === 0, 'the connection is gone');
      } finally {
        await app.close();
      }
    },
  );

  it('installSignalHandlers: a shutdown signal closes the server (1012 to clients) and exits 0', async () => {
    const t = await startTestServer();
    const c = await TestClient.authed(t.wsUrl, await t.token({ sub: 'alice' }));
    const codes: number[] = [];
    const remove = installSignalHandlers(t.server, { exit: (code) => codes.push(code), signals: ['SIGUSR2'] });
    try {
      process.emit('SIGUSR2', 'SIGUSR2');
      expect(await c.closeCodeWithin()).toBe(1012);
      await eventually(() => codes.length > 0, 'exit was called');
      expect(codes).toEqual([0]);
    } finally {
      remove();
      await t.close();
    }
  });
});
