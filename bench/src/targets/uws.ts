/**
 * uWebSockets.js native pub/sub (the unofficial npm build), the physical limit in
 * Node. Runs under Node 20 only: the native binary is loaded by path and a missing
 * one is an error, never the package's slow JS fallback.
 */
import { createRequire } from 'node:module';
import type * as Uws from '@trufflesuite/uws-js-unofficial';
import { eventFrame, Offsets, publishReply, TaskShapes, type Target, type TargetOptions } from './common.js';

export async function startUws(o: TargetOptions): Promise<Target> {
  if (!o.uwsBinary) throw new Error('uws: no native binary given');
  const uws = createRequire(import.meta.url)(o.uwsBinary) as typeof Uws;
  const offsets = new Offsets();
  const shapes = new TaskShapes();
  const decoder = new TextDecoder();
  // Declared before the app: the message handler publishes too (the `publish` op, answered with the offset).
  let app: Uws.TemplatedApp | null = null;
  const publish = (channel: string, data: unknown): number => {
    const offset = offsets.take(channel);
    app?.publish(channel, eventFrame(channel, offset, data), false, false);
    return offset;
  };
  const server = uws.App().ws<unknown>('/*', {
    compression: uws.DISABLED,
    maxPayloadLength: 64 * 1024,
    idleTimeout: 960,
    // As taskwire's default send buffer (1 MiB); uws skips slow receivers beyond it.
    maxBackpressure: 1024 * 1024,
    message: (ws, message, isBinary) => {
      if (isBinary) return;
      let msg: { op?: unknown; id?: unknown; channel?: unknown; data?: unknown };
      try {
        msg = JSON.parse(decoder.decode(message)) as typeof msg;
      } catch {
        return;
      }
      if (typeof msg.channel !== 'string' || typeof msg.id !== 'number') return;
      if (msg.op === 'publish') {
        ws.send(publishReply(msg.id, publish(msg.channel, msg.data)), false, false);
        return;
      }
      if (msg.op !== 'subscribe') return;
      ws.subscribe(msg.channel);
      ws.send(`{"type":"reply","id":${msg.id},"result":{}}`, false, false);
    },
  });
  app = server;
  const port = await new Promise<number>((resolve, reject) => {
    server.listen('127.0.0.1', 0, (token) => {
      if (!token) reject(new Error('uws: listen failed'));
      else resolve(uws.us_socket_local_port(token));
    });
  });

  return {
    port,
    sink: {
      raw: (channel, data) => void publish(channel, data),
      task: (channel, taskId, progress, t) => void publish(channel, shapes.update(taskId, progress, t)),
    },
    close: () => Promise.resolve(),
  };
}
