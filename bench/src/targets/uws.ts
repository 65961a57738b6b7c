/**
 * uWebSockets.js native pub/sub (the unofficial npm build), the physical limit in
 * Node. Runs under Node 20 only: the native binary is loaded by path and a missing
 * one is an error, never the package's slow JS fallback.
 */
import { createRequire } from 'node:module';
import type * as Uws from '@trufflesuite/uws-js-unofficial';
import { eventFrame, Offsets, TaskShapes, type Target, type TargetOptions } from './common.js';

export async function startUws(o: TargetOptions): Promise<Target> {
  if (!o.uwsBinary) throw new Error('uws: no native binary given');
  const uws = createRequire(import.meta.url)(o.uwsBinary) as typeof Uws;
  const offsets = new Offsets();
  const shapes = new TaskShapes();
  const decoder = new TextDecoder();
  const app = uws.App().ws<unknown>('/*', {
    compression: uws.DISABLED,
    maxPayloadLength: 64 * 1024,
    idleTimeout: 960,
    // As taskwire's default send buffer (1 MiB); uws skips slow receivers beyond it.
    maxBackpressure: 1024 * 1024,
    message: (ws, message, isBinary) => {
      if (isBinary) return;
      let msg: { op?: unknown; id?: unknown; channel?: unknown };
      try {
        msg = JSON.parse(decoder.decode(message)) as typeof msg;
      } catch {
        return;
      }
      if (msg.op !== 'subscribe' || typeof msg.channel !== 'string' || typeof msg.id !== 'number') return;
      ws.subscribe(msg.channel);
      ws.send(`{"type":"reply","id":${msg.id},"result":{}}`, false, false);
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    app.listen('127.0.0.1', 0, (token) => {
      if (!token) reject(new Error('uws: listen failed'));
      else resolve(uws.us_socket_local_port(token));
    });
  });
  const publish = (channel: string, data: unknown): void => {
    app.publish(channel, eventFrame(channel, offsets.take(channel), data), false, false);
  };
  return {
    port,
    sink: {
      raw: (channel, data) => publish(channel, data),
      task: (channel, taskId, progress, t) => publish(channel, shapes.update(taskId, progress, t)),
    },
    close: () => Promise.resolve(),
  };
}
