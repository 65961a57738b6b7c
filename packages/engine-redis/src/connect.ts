/**
 * Redis connections: a command connection and broker connections, on a single Redis
 * or a Cluster. Commands fail fast while Redis is away (no offline queue, one retry,
 * a command timeout), so the API answers 503 at once instead of queueing without
 * bound; the connections keep reconnecting in the background.
 */
import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';
import type { BrokerTransport, Log } from './pubsub.js';
import type { Client } from './scripts.js';

export interface Connections {
  client: Client;
  sharded: boolean;
  transport: BrokerTransport;
  /** Subscribe to broker messages and to "the subscriber came back" notices. */
  listen(onMessage: (pubsub: string, message: string) => void, onReconnect: () => void): void;
  /** Both the command and the broker side are usable. */
  ready(): boolean;
  connect(): Promise<void>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  url: string;
  cluster?: string[];
  commandTimeoutMs: number;
  logger: Log;
}

/** Back off 50 ms, 100 ms … up to 2 s between reconnection attempts, for ever. */
const retryStrategy = (times: number): number => Math.min(50 * 2 ** Math.min(times, 6), 2000);

function baseOptions(opts: ConnectOptions): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: opts.commandTimeoutMs,
    connectTimeout: Math.max(opts.commandTimeoutMs, 2000),
    retryStrategy,
  };
}

function seed(url: string): ClusterNode {
  const u = new URL(url);
  return { host: u.hostname, port: u.port ? Number(u.port) : 6379 };
}

async function quit(client: Client): Promise<void> {
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

export function connectSingle(opts: ConnectOptions): Connections {
  const client = new Redis(opts.url, baseOptions(opts));
  // The subscriber is a connection of its own: once in subscriber mode it can run nothing else.
  const subscriber = client.duplicate();
  for (const [name, c] of [
    ['command', client],
    ['subscriber', subscriber],
  ] as const) {
    c.on('error', (err: Error) =>
      opts.logger.warn({ err: err.message, connection: name }, 'redis engine: connection error'),
    );
  }
  return {
    client,
    sharded: false,
    transport: {
      subscribe: async (pubsub) => {
        await subscriber.subscribe(pubsub);
      },
      unsubscribe: async (pubsub) => {
        await subscriber.unsubscribe(pubsub);
      },
    },
    listen(onMessage, onReconnect) {
      subscriber.on('message', onMessage);
      let connectedOnce = false;
      subscriber.on('ready', () => {
        if (connectedOnce) onReconnect();
        connectedOnce = true;
      });
    },
    ready: () => client.status === 'ready' && subscriber.status === 'ready',
    async connect() {
      await Promise.all([client.connect(), subscriber.connect()]);
    },
    async close() {
      await Promise.all([quit(client), quit(subscriber)]);
    },
  };
}

export function connectCluster(opts: ConnectOptions & { cluster: string[] }): Connections {
  const redisOptions = baseOptions(opts);
  const { password, username } = new URL(opts.cluster[0] ?? opts.url);
  const cluster = new Cluster(opts.cluster.map(seed), {
    lazyConnect: true,
    enableOfflineQueue: false,
    // Sharded pub/sub: one extra subscriber connection per master, SSUBSCRIBE routed by slot.
    shardedSubscribers: true,
    scaleReads: 'master',
    clusterRetryStrategy: retryStrategy,
    redisOptions: {
      ...redisOptions,
      ...(password ? { password: decodeURIComponent(password) } : {}),
      ...(username ? { username: decodeURIComponent(username) } : {}),
    },
  });
  cluster.on('error', (err: Error) => opts.logger.warn({ err: err.message }, 'redis engine: cluster error'));
  return {
    client: cluster,
    sharded: true,
    transport: {
      subscribe: async (pubsub) => {
        await cluster.ssubscribe(pubsub);
      },
      unsubscribe: async (pubsub) => {
        await cluster.sunsubscribe(pubsub);
      },
    },
    listen(onMessage, onReconnect) {
      cluster.on('smessage', onMessage);
      // A sharded subscriber that lost its connection is replaced and its channels
      // resubscribed by ioredis, which then says `subscribersReady`: catch up after that.
      let lost = false;
      cluster.on('-subscriber', () => {
        lost = true;
      });
      cluster.on('subscribersReady', () => {
        if (lost) onReconnect();
        lost = false;
      });
    },
    ready: () => cluster.status === 'ready',
    async connect() {
      await cluster.connect();
    },
    async close() {
      await quit(cluster);
    },
  };
}
