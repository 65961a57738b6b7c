/**
 * The plain `ws` baseline: Map<channel, Set<socket>>, one string per event sent to
 * every subscriber, the same frames as taskwire. Subscribe: `{"op":"subscribe",
 * "id":1,"channel":"…"}`, answered `{"type":"reply","id":1,"result":{}}`; publish:
 * `{"op":"publish","id":2,"channel":"…","data":…}`, broadcast, then answered with the offset.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { eventFrame, Offsets, publishReply, TaskShapes, type Target } from './common.js';

export async function startPlainWs(): Promise<Target> {
  const http = createServer((_req, res) => res.writeHead(426).end());
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false, clientTracking: true });
  const channels = new Map<string, Set<WebSocket>>();
  const offsets = new Offsets();
  const shapes = new TaskShapes();

  wss.on('connection', (ws) => {
    const mine = new Set<string>();
    ws.on('message', (raw, isBinary) => {
      if (isBinary) return;
      let msg: { op?: unknown; id?: unknown; channel?: unknown; data?: unknown };
      try {
        msg = JSON.parse(Buffer.isBuffer(raw) ? raw.toString() : '') as typeof msg;
      } catch {
        return;
      }
      if (typeof msg.channel !== 'string' || typeof msg.id !== 'number') return;
      if (msg.op === 'publish') {
        ws.send(publishReply(msg.id, broadcast(msg.channel, msg.data)));
        return;
      }
      if (msg.op !== 'subscribe') return;
      let set = channels.get(msg.channel);
      if (!set) channels.set(msg.channel, (set = new Set()));
      set.add(ws);
      mine.add(msg.channel);
      ws.send(`{"type":"reply","id":${msg.id},"result":{}}`);
    });
    ws.on('close', () => {
      for (const name of mine) {
        const set = channels.get(name);
        set?.delete(ws);
        if (set?.size === 0) channels.delete(name);
      }
    });
  });

  function broadcast(channel: string, data: unknown): number {
    const set = channels.get(channel);
    const offset = offsets.take(channel);
    const frame = eventFrame(channel, offset, data);
    if (set) for (const ws of set) ws.send(frame);
    return offset;
  }

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    port: (http.address() as AddressInfo).port,
    sink: {
      raw: (channel, data) => void broadcast(channel, data),
      task: (channel, taskId, progress, t) => void broadcast(channel, shapes.update(taskId, progress, t)),
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        http.close(() => resolve());
      }),
  };
}
