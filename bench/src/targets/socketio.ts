/**
 * Socket.IO 4: rooms, websocket transport only, no compression; optionally the
 * Redis adapter (@socket.io/redis-adapter). A client joins with an acknowledged
 * `join` event; events are emitted to the room as `event` with the taskwire frame;
 * a publisher's `publish` event is emitted to its room and acknowledged with the offset.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { Offsets, TaskShapes, type Target, type TargetOptions } from './common.js';

export async function startSocketIo(o: TargetOptions): Promise<Target> {
  const http = createServer();
  const io = new Server(http, {
    transports: ['websocket'],
    perMessageDeflate: false,
    httpCompression: false,
    serveClient: false,
    pingInterval: 25000,
  });
  const closers: Array<() => Promise<unknown>> = [];
  if (o.redisUrl) {
    const { Redis } = await import('ioredis');
    const { createAdapter } = await import('@socket.io/redis-adapter');
    const pub = new Redis(o.redisUrl);
    const sub = pub.duplicate();
    io.adapter(createAdapter(pub, sub));
    closers.push(
      () => pub.quit(),
      () => sub.quit(),
    );
  }
  const offsets = new Offsets();
  const shapes = new TaskShapes();
  io.on('connection', (socket) => {
    socket.on('join', (room: unknown, ack: unknown) => {
      if (typeof room !== 'string') return;
      void socket.join(room);
      if (typeof ack === 'function') (ack as () => void)();
    });
    // A publisher's event: broadcast to the room, acknowledged with the offset.
    socket.on('publish', (channel: unknown, data: unknown, ack: unknown) => {
      if (typeof channel !== 'string') return;
      const offset = emit(channel, data);
      if (typeof ack === 'function') (ack as (r: unknown) => void)({ epoch: 'bench', offset });
    });
  });
  const emit = (channel: string, data: unknown): number => {
    const offset = offsets.take(channel);
    io.to(channel).emit('event', { type: 'event', channel, epoch: 'bench', offset, time: Date.now(), data });
    return offset;
  };
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    port: (http.address() as AddressInfo).port,
    sink: {
      raw: (channel, data) => void emit(channel, data),
      task: (channel, taskId, progress, t) => void emit(channel, shapes.update(taskId, progress, t)),
    },
    async close() {
      await io.close();
      await Promise.allSettled(closers.map((c) => c()));
    },
  };
}
