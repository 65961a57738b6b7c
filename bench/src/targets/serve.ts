/**
 * A target process: starts one server (argv[2]: TargetOptions as JSON) and takes
 * control requests from the bench over IPC: publish (the in-process publisher
 * loop), prepare (taskwire tasks), memory (process.memoryUsage() after a GC), stop.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { announceReady, serveRequests } from '../ipc.js';
import { runPublisher, type PublishArgs, type Target, type TargetOptions } from './common.js';

async function load(o: TargetOptions): Promise<Target> {
  switch (o.kind) {
    case 'taskwire':
      return (await import('./taskwire.js')).startTaskwire(o);
    case 'ws':
      return (await import('./plain-ws.js')).startPlainWs();
    case 'socketio':
      return (await import('./socketio.js')).startSocketIo(o);
    case 'uws':
      return (await import('./uws.js')).startUws(o);
    case 'app-ws':
      return (await import('./app-ws.js')).startAppWs(o);
    case 'app-socketio':
      return (await import('./app-socketio.js')).startAppSocketIo(o);
  }
}

let inspector: Session | null = null;

/** A V8 CPU profile of just the measured window (start before publishing, stop after delivery). */
async function profile(a: { action: 'start' } | { action: 'stop'; file: string }): Promise<null> {
  if (a.action === 'start') {
    inspector = new Session();
    inspector.connect();
    await inspector.post('Profiler.enable');
    await inspector.post('Profiler.setSamplingInterval', { interval: 100 });
    await inspector.post('Profiler.start');
    return null;
  }
  if (!inspector) throw new Error('the profiler was not started');
  const { profile: p } = await inspector.post('Profiler.stop');
  writeFileSync(a.file, JSON.stringify(p));
  inspector.disconnect();
  inspector = null;
  return null;
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as TargetOptions;
  const target = await load(options);
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const force = setTimeout(() => process.exit(0), 2000);
      force.unref();
      try {
        await target.close();
      } finally {
        process.exit(0);
      }
    })();
    return stopping;
  };
  serveRequests(
    {
      publish: (args) => runPublisher(args as PublishArgs, target.sink),
      prepare: (args) => target.prepare?.(args as string[]),
      memory: (args) => {
        const gc = (globalThis as { gc?: () => void }).gc;
        if (args === true && gc) {
          gc();
          gc();
        }
        return process.memoryUsage();
      },
      profile: (args) => profile(args as { action: 'start' } | { action: 'stop'; file: string }),
      stop: () => {
        setImmediate(() => void stop());
        return null;
      },
    },
    () => void stop(),
  );
  announceReady({ ready: true, port: target.port });
}

main().catch((err: unknown) => {
  console.error('bench target failed to start:', err);
  process.exit(1);
});
