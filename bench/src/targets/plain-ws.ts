/**
 * The plain `ws` baseline: Map<channel, Set<socket>>, one string per event sent to
 * every subscriber, the same frames as taskwire. Subscribe: `{"op":"subscribe",
 * "id":1,"channel":"…"}`, answered `{"type":"reply","id":1,"result":{}}`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { eventFrame, Offsets, TaskShapes, type Target } from './common.js';

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
      let msg: { op?: unknown; id?: unknown; channel?: unknown };
      try {
        msg = JSON.parse(Buffer.isBuffer(raw) ? raw.toString() : '') as typeof msg;
      } catch {
        return;
      }
      if (msg.op !== 'subscribe' || typeof msg.channel !== 'string' || typeof msg.id !== 'number') return;
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

  function broadcast(channel: string, data: unknown): void {
    const set = channels.get(channel);
    const frame = eventFrame(channel, offsets.take(channel), data);
    if (!set) return;
    for (const ws of set) ws.send(frame);
  }

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    port: (http.address() as AddressInfo).port,
    sink: {
      raw: (channel, data) => broadcast(channel, data),
      task: (channel, taskId, progress, t) => broadcast(channel, shapes.update(taskId, progress, t)),
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        http.close(() => resolve());
      }),
  };
}
