/**
 * Servers for the client's integration tests: `restartable()` runs a real server
 * whose memory engine outlives it, so it can be stopped (clients get 1012) and
 * started again on the same port with every channel's epoch and history intact,
 * as a durable engine would after a deploy.
 */
import type { Engine } from '../../../server/src/engine/types.js';
import { createMemoryEngine } from '../../../server/src/engine/memory/memory-engine.js';
import { createServer, type StandaloneServer } from '../../../server/src/app/create-server.js';
import type { ServerConfig } from '../../../server/src/config/types.js';
import {
  TEST_API_KEY,
  TEST_JWT_SECRET,
  startTestServer,
  type TestServer,
} from '../../../server/test/helpers/server.js';

export { startTestServer, TEST_API_KEY, type TestServer };

/** The engine, with close() a no-op so a server stopping does not end it. */
function outliving(engine: Engine): Engine {
  return new Proxy(engine, {
    get(target, prop) {
      if (prop === 'close') return () => Promise.resolve();
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export interface Restartable {
  readonly port: number;
  readonly current: StandaloneServer;
  /** Stop the server (every socket gets 1012) and start a new one on the same port and engine. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function restartable(config: Partial<ServerConfig> = {}): Promise<Restartable> {
  const engine = createMemoryEngine({ historySize: config.historySize ?? 1000 });
  const shared = outliving(engine);
  let port = 0;
  let current: StandaloneServer | undefined;
  const start = async (): Promise<void> => {
    const s = await createServer({
      jwtSecret: TEST_JWT_SECRET,
      apiKey: TEST_API_KEY,
      logLevel: 'silent',
      ...config,
      host: '127.0.0.1',
      port,
      shutdownTimeoutMs: 2000,
      engineFactory: () => shared,
    });
    port = (await s.listen()).port;
    current = s;
  };
  const stop = async (): Promise<void> => {
    const s = current;
    current = undefined;
    await s?.close();
  };
  await start();
  return {
    get port() {
      return port;
    },
    get current() {
      if (!current) throw new Error('the server is stopped');
      return current;
    },
    start,
    stop,
    async restart() {
      await stop();
      await start();
    },
    async close() {
      await stop();
      await engine.close();
    },
  };
}
