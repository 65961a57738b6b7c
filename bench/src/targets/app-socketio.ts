/**
 * The same baseline with Socket.IO (websocket transport only, no compression): the
 * task route of app-tasks.ts ends in `io.to("task:<id>").emit(...)`; a connection's
 * token (`auth.token` of the CONNECT packet) is verified once with jose in an
 * `io.use` middleware, and a client joins (acknowledged `join`) only the tasks it owns.
 */
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { mayRead, TaskStore, taskApp, tokenVerifier, type AppTask } from './app-tasks.js';
import { Offsets, type Target, type TargetOptions } from './common.js';

export async function startAppSocketIo(o: TargetOptions): Promise<Target> {
  const store = new TaskStore();
  const offsets = new Offsets();
  const verify = tokenVerifier(o.jwtSecret ?? '');
  let io: Server | null = null;
  const send = (channel: string, data: unknown): void => {
    const offset = offsets.take(channel);
    io?.to(channel).emit('event', { type: 'event', channel, epoch: 'bench', offset, time: Date.now(), data });
  };
  const onUpdate = (task: AppTask): void => send(`task:${task.id}`, { kind: 'task.updated', task });
  const app = taskApp(store, onUpdate);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const server = new Server(app.server, {
    transports: ['websocket'],
    perMessageDeflate: false,
    httpCompression: false,
    serveClient: false,
  });
  io = server;
  server.use((socket, next) => {
    const auth = socket.handshake.auth as { token?: unknown };
    void verify(auth.token).then((sub) => {
      if (sub === null) return next(new Error('unauthorized'));
      (socket.data as { user?: string }).user = sub;
      next();
    });
  });
  server.on('connection', (socket) => {
    socket.on('join', (channel: unknown, ack: unknown) => {
      const user = (socket.data as { user?: string }).user ?? '';
      const task = typeof channel === 'string' ? mayRead(store, user, channel) : null;
      const respond = typeof ack === 'function' ? (ack as (r: unknown) => void) : () => undefined;
      if (!task || typeof channel !== 'string') return respond({ error: 'not_found' });
      void socket.join(channel);
      respond({ snapshot: task });
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
      await server.close();
      await app.close().catch(() => undefined);
    },
  };
}
