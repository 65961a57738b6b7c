/**
 * The baseline users hand-build with Fastify and ws: the task route of app-tasks.ts,
 * and a WebSocket endpoint (`/api/v1/ws`) where a client sends `{"op":"auth","token"}`
 * (verified once with jose), then `{"op":"subscribe","id","channel":"task:<id>"}` for a
 * task it owns; each update is serialized once and sent to the task's subscribers.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { mayRead, TaskStore, taskApp, tokenVerifier, type AppTask } from './app-tasks.js';
import { eventFrame, Offsets, type Target, type TargetOptions } from './common.js';

interface Frame {
  op?: unknown;
  id?: unknown;
  token?: unknown;
  channel?: unknown;
}

export async function startAppWs(o: TargetOptions): Promise<Target> {
  const store = new TaskStore();
  const offsets = new Offsets();
  const subscribers = new Map<string, Set<WebSocket>>();
  const verify = tokenVerifier(o.jwtSecret ?? '');

  const send = (channel: string, data: unknown): void => {
    const frame = eventFrame(channel, offsets.take(channel), data);
    for (const ws of subscribers.get(channel) ?? []) ws.send(frame);
  };
  const onUpdate = (task: AppTask): void => send(`task:${task.id}`, { kind: 'task.updated', task });
  const app = taskApp(store, onUpdate);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const wss = new WebSocketServer({ server: app.server, path: '/api/v1/ws', perMessageDeflate: false });

  wss.on('connection', (ws) => {
    let user: string | null = null;
    const mine = new Set<string>();
    ws.on('message', (raw: Buffer) => {
      let msg: Frame;
      try {
        msg = JSON.parse(raw.toString()) as Frame;
      } catch {
        return ws.close(4500, 'bad frame');
      }
      if (user === null) {
        if (msg.op !== 'auth') return ws.close(4501, 'authenticate first');
        void verify(msg.token).then((sub) => {
          if (sub === null) return ws.close(4501, 'invalid token');
          user = sub;
          ws.send(JSON.stringify({ type: 'welcome', user }));
        });
        return;
      }
      if (msg.op !== 'subscribe' || typeof msg.id !== 'number' || typeof msg.channel !== 'string') return;
      const task = mayRead(store, user, msg.channel);
      if (!task) {
        ws.send(JSON.stringify({ type: 'reply', id: msg.id, error: { code: 'not_found', message: 'no such task' } }));
        return;
      }
      let set = subscribers.get(msg.channel);
      if (!set) subscribers.set(msg.channel, (set = new Set()));
      set.add(ws);
      mine.add(msg.channel);
      const position = { channel: msg.channel, epoch: 'bench', offset: offsets.current(msg.channel), snapshot: task };
      ws.send(JSON.stringify({ type: 'reply', id: msg.id, result: position }));
    });
    ws.on('close', () => {
      for (const channel of mine) {
        const set = subscribers.get(channel);
        set?.delete(ws);
        if (set?.size === 0) subscribers.delete(channel);
      }
    });
  });

  return {
    port: (app.server.address() as AddressInfo).port,
    sink: {
      raw: (channel, data) => send(channel, data),
      task: (_channel, taskId, progress, t) => {
        const task = store.update(taskId, { progress, meta: { t } });
        if (task) onUpdate(task);
      },
    },
    prepare(taskIds) {
      for (const id of taskIds) store.create(id);
      return Promise.resolve();
    },
    async close() {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await app.close();
    },
  };
}
